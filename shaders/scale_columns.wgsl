// out[t, j] = a[t, j] · v[j] (+ bias[j]) (+ beta · out[t, j]): the per-feature scalings of
// VeRA (λ_d, λ_b) and DoRA (m / ‖W + sBA‖).
override HAS_BIAS: bool = false;

struct Params { T: u32, N: u32, beta: f32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.T * params.N) { return; }
  let j = i % params.N;
  var r = a[i] * v[j];
  if (HAS_BIAS) { r += bias[j]; }
  if (params.beta != 0.0) { r += params.beta * out[i]; }
  out[i] = r;
}
