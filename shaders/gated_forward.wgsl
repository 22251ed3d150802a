// The gated MLP's activation: h = act(gate) · up, with act = silu (SwiGLU: Llama, Qwen) or,
// with GELU, the tanh GELU of gelu.wgsl (GeGLU: Gemma).
override GELU: bool = false;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.n) { return; }
  let g = gate[i];
  if (GELU) {
    h[i] = gelu(g) * up[i];
  } else {
    h[i] = g / (1.0 + exp(-g)) * up[i];
  }
}
