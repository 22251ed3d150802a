// attention_backward_kv.wgsl for CPU adapters, bit-identical to it: one invocation per block of
// four key/value rows j0..j0+3 of one (batch, kv head), no workgroup memory and no barriers.
//   out_j = alpha · Σ_{h in group g} Σ_{i ≥ j} W[b, h, i, j] · X_i
// summed over heads, then over i, in order, as the workgroup kernel does; one row X_i serves the
// four keys. Invocations are numbered (key block, batch, kv head) with the kv head fastest.
const KEYS: u32 = 4u;
const SERIAL_WG: u32 = 16u;

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let S = params.S;
  let heads = params.B * params.KVH;
  let index = serialIndex(wid, groups, lix, SERIAL_WG);
  if (index >= ((S + KEYS - 1u) / KEYS) * heads) { return; }
  let b = (index % heads) / params.KVH;
  let g = index % params.KVH;
  let j0 = (index / heads) * KEYS;
  let keys = min(KEYS, S - j0);
  for (var d0 = 0u; d0 < params.D; d0 += 4u) {
    let n = min(4u, params.D - d0);
    let acc = keyColumns(b, g, j0, d0, n);
    for (var r = 0u; r < keys; r++) {
      let at = (b * S + j0 + r) * params.ldout + params.out_off + g * params.D + d0;
      let y = params.alpha * acc[r];
      for (var c = 0u; c < n; c++) { out[at + c] = y[c]; }
    }
  }
}

/** acc[r] = Σ_h Σ_{i ≥ j0+r} W[b, h, i, j0+r] X_i[d0..d0+n-1] for the heads of kv head g. */
fn keyColumns(b: u32, g: u32, j0: u32, d0: u32, n: u32) -> array<vec4<f32>, 4> {
  let S = params.S;
  let group = params.H / params.KVH;
  var acc = array<vec4<f32>, 4>();
  for (var hh = 0u; hh < group; hh++) {
    let h = g * group + hh;
    for (var i = j0; i < S; i++) {
      let xi = loadX4((b * S + i) * params.ldx + params.x_off + h * params.D + d0, n);
      let wrow = ((b * params.H + h) * S + i) * S + j0;
      if (i >= j0 + KEYS - 1u) {
        // Row i is past all four keys: each sees it (j0 + 3 < S here, so all four are real).
        acc[0] += w[wrow] * xi;
        acc[1] += w[wrow + 1u] * xi;
        acc[2] += w[wrow + 2u] * xi;
        acc[3] += w[wrow + 3u] * xi;
      } else {
        for (var r = 0u; r <= i - j0; r++) { acc[r] += w[wrow + r] * xi; }
      }
    }
  }
  return acc;
}
