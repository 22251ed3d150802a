// dx = r·w·dy − x · r³/C · Σ(w·dy·x)   (+ dres, the gradient arriving through the residual).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = rowIndex(wid, nwg);
  if (t >= params.T) { return; }
  let base = t * params.C;
  let r = rstd[t];
  var acc = 0.0;
  for (var c = lid; c < params.C; c += 64u) { acc += (w[c] + W_OFFSET) * dy[base + c] * x[base + c]; }
  let k = reduceSum(lid, acc) * r * r * r / f32(params.C);
  for (var c = lid; c < params.C; c += 64u) {
    var g = r * (w[c] + W_OFFSET) * dy[base + c] - x[base + c] * k;
    if (HAS_RESID) { g += dres[base + c]; }
    dx[base + c] = g;
  }
}
