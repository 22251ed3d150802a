// rmsnorm_forward.wgsl for CPU adapters: one row per invocation, no workgroup memory and no
// barriers; the sum of squares is folded in the workgroup tree's order (common_reduce_serial.wgsl),
// so y and rstd are bit-identical to the workgroup kernel's.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let t = serialIndex(wid, groups, lix, LANES);
  if (t >= params.T) { return; }
  let base = t * params.C;
  var part = array<f32, 64>();
  for (var c = 0u; c < params.C; c++) { let v = x[base + c]; part[c % LANES] += v * v; }
  let r = inverseSqrt(treeSum(&part) / f32(params.C) + params.eps);
  for (var c = 0u; c < params.C; c++) { y[base + c] = x[base + c] * r * (w[c] + W_OFFSET); }
  rstd[t] = r;
}
