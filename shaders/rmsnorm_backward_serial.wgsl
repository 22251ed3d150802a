// rmsnorm_backward.wgsl for CPU adapters: one row per invocation, Σ(w·dy·x) folded in the
// workgroup tree's order (common_reduce_serial.wgsl), so dx is bit-identical to the workgroup
// kernel's.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let t = serialIndex(wid, groups, lix, LANES);
  if (t >= params.T) { return; }
  let base = t * params.C;
  let r = rstd[t];
  var part = array<f32, 64>();
  for (var c = 0u; c < params.C; c++) { part[c % LANES] += (w[c] + W_OFFSET) * dy[base + c] * x[base + c]; }
  let k = treeSum(&part) * r * r * r / f32(params.C);
  for (var c = 0u; c < params.C; c++) {
    var g = r * (w[c] + W_OFFSET) * dy[base + c] - x[base + c] * k;
    if (HAS_RESID) { g += dres[base + c]; }
    dx[base + c] = g;
  }
}
