// y = (x − mean)·rstd·w + b, one workgroup per row; mean and rstd are kept for backward.
struct Params { T: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>; // [T, 2]: mean, rstd
@group(0) @binding(5) var<uniform> params: Params;

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
