// layernorm_backward.wgsl for CPU adapters: one row per invocation, both sums folded in the
// workgroup tree's order (common_reduce_serial.wgsl), so dx is bit-identical to the workgroup
// kernel's.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let t = serialIndex(wid, groups, lix, LANES);
  if (t >= params.T) { return; }
  let base = t * params.C;
  let mean = stats[2u * t];
  let r = stats[2u * t + 1u];
  var partG = array<f32, 64>();
  var partGX = array<f32, 64>();
  for (var c = 0u; c < params.C; c++) {
    let g = dy[base + c] * w[c];
    partG[c % LANES] += g;
    partGX[c % LANES] += g * (x[base + c] - mean) * r;
  }
  let n = f32(params.C);
  let meanG = treeSum(&partG) / n;
  let meanGX = treeSum(&partGX) / n;
  for (var c = 0u; c < params.C; c++) {
    let xhat = (x[base + c] - mean) * r;
    var v = r * (dy[base + c] * w[c] - meanG - xhat * meanGX);
    if (HAS_RESID) { v += dres[base + c]; }
    dx[base + c] = v;
  }
}
