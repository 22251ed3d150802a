// Optimizer-state pruning for ReLoRA resets: zero a fraction of the elements of x.
//   RANDOM:    each element is zeroed with probability `ratio` (counter hash of seed and index)
//   otherwise: elements with |x| < threshold are zeroed (magnitude pruning; the threshold is
//              the ratio-quantile of |x|, chosen on the CPU)
override RANDOM: bool = true;

struct Params { n: u32, ratio: f32, seed: u32, threshold: f32 }

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.n) { return; }
  var drop: bool;
  if (RANDOM) {
    drop = uniform01(i, params.seed) < params.ratio;
  } else {
    drop = abs(x[i]) < params.threshold;
  }
  if (drop) { x[i] = 0.0; }
}
