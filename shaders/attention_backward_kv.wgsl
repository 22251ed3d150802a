// Column pass of attention backward for key/value row j of kv-head g, batch b:
//   out_j = alpha · Σ_{h in group g} Σ_{i ≥ j} W[b, h, i, j] · X_i
// dK: W = dS, X = Q, alpha = scale.   dV: W = P, X = dO, alpha = 1.
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
