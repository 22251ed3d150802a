// Column pass of attention backward for key/value row j of kv-head g, batch b:
//   out_j = alpha · Σ_{h in group g} Σ_{i ≥ j} W[b, h, i, j] · X_i
// dK: W = dS, X = Q, alpha = scale.   dV: W = P, X = dO, alpha = 1.
struct Params {
  S: u32, H: u32, KVH: u32, D: u32,
  ldx: u32, x_off: u32, ldout: u32, out_off: u32, alpha: f32,
}

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = wid.x;
  let g = wid.y;
  let b = wid.z;
  let S = params.S;
  let D = params.D;
  let group = params.H / params.KVH;
  for (var d = lid; d < D; d += 64u) {
    var acc = 0.0;
    for (var hh = 0u; hh < group; hh++) {
      let h = g * group + hh;
      for (var i = j; i < S; i++) {
        acc += w[((b * params.H + h) * S + i) * S + j] * x[(b * S + i) * params.ldx + params.x_off + h * D + d];
      }
    }
    out[(b * S + j) * params.ldout + params.out_off + g * D + d] = params.alpha * acc;
  }
}
