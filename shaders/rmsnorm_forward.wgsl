// y = x · rstd · (w + W_OFFSET) with rstd = 1/sqrt(mean(x²) + eps), one workgroup per row; rstd is kept
// for the backward pass.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = rowIndex(wid, nwg);
  if (t >= params.T) { return; }
  let base = t * params.C;
  var ss = 0.0;
  for (var c = lid; c < params.C; c += 64u) { let v = x[base + c]; ss += v * v; }
  let r = inverseSqrt(reduceSum(lid, ss) / f32(params.C) + params.eps);
  for (var c = lid; c < params.C; c += 64u) { y[base + c] = x[base + c] * r * (w[c] + W_OFFSET); }
  if (lid == 0u) { rstd[t] = r; }
}
