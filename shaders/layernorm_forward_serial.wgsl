// layernorm_forward.wgsl for CPU adapters: one row per invocation, no workgroup memory and no
// barriers; both sums are folded in the workgroup tree's order (common_reduce_serial.wgsl), so
// y and the stats are bit-identical to the workgroup kernel's.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let t = serialIndex(wid, groups, lix, LANES);
  if (t >= params.T) { return; }
  let base = t * params.C;
  let n = f32(params.C);
  var part = array<f32, 64>();
  for (var c = 0u; c < params.C; c++) { part[c % LANES] += x[base + c]; }
  let mean = treeSum(&part) / n;
  var partSq = array<f32, 64>();
  for (var c = 0u; c < params.C; c++) { let d = x[base + c] - mean; partSq[c % LANES] += d * d; }
  let r = inverseSqrt(treeSum(&partSq) / n + params.eps);
  for (var c = 0u; c < params.C; c++) { y[base + c] = (x[base + c] - mean) * r * w[c] + b[c]; }
  stats[2u * t] = mean;
  stats[2u * t + 1u] = r;
}
