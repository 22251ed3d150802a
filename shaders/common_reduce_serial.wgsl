// The reduction tree of common_reduce.wgsl, run by one invocation over 64 partial sums of its
// own. Serial row kernels (one row per invocation, for CPU adapters) keep lane l's partial
// (the elements l, l+64, l+128, … in order) and fold them in the very order of the 64-thread
// workgroup tree, so both kernels round alike and give bit-identical results.
const LANES: u32 = 64u;

fn treeSum(part: ptr<function, array<f32, 64>>) -> f32 {
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    for (var l = 0u; l < s; l++) { (*part)[l] += (*part)[l + s]; }
  }
  return (*part)[0];
}

/** Invocation index on a 2-D grid of 1-D workgroups (see grid() in runtime.ts). */
fn serialIndex(wid: vec3<u32>, groups: vec3<u32>, lix: u32, size: u32) -> u32 {
  return (wid.y * groups.x + wid.x) * size + lix;
}
