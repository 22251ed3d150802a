// y = (x − mean)·rstd·w + b, one workgroup per row; mean and rstd are kept for backward.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = rowIndex(wid, nwg);
  if (t >= params.T) { return; }
  let base = t * params.C;
  let n = f32(params.C);
  var s = 0.0;
  for (var c = lid; c < params.C; c += 64u) { s += x[base + c]; }
  let mean = reduceSum(lid, s) / n;
  // Two passes (mean first) keep the variance accurate in f32.
  var ss = 0.0;
  for (var c = lid; c < params.C; c += 64u) { let d = x[base + c] - mean; ss += d * d; }
  let r = inverseSqrt(reduceSum(lid, ss) / n + params.eps);
  for (var c = lid; c < params.C; c += 64u) { y[base + c] = (x[base + c] - mean) * r * w[c] + b[c]; }
  if (lid == 0u) { stats[2u * t] = mean; stats[2u * t + 1u] = r; }
}
