// out = x · keep / (1 − p) (+ beta · out), keep drawn from a counter-based hash of (seed, i):
// the same seed gives the same mask, so the backward pass re-applies it to the gradient.
struct Params { n: u32, p: f32, seed: u32, beta: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.n) { return; }
  let u = uniform01(i, params.seed);
  var v = select(0.0, x[i] / (1.0 - params.p), u >= params.p);
  if (params.beta != 0.0) { v += params.beta * out[i]; }
  out[i] = v;
}
