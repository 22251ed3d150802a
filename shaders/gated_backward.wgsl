// Backward of gated_forward.wgsl:
//   SwiGLU: d gate = dh · up · σ(g)(1 + g(1 − σ(g))),  d up = dh · silu(g)
//   GeGLU:  d gate = dh · up · gelu′(g),               d up = dh · gelu(g)
override GELU: bool = false;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read> dh: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(4) var<storage, read_write> dup: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.n) { return; }
  let g = gate[i];
  if (GELU) {
    dgate[i] = dh[i] * up[i] * geluGrad(g);
    dup[i] = dh[i] * gelu(g);
  } else {
    let sig = 1.0 / (1.0 + exp(-g));
    dgate[i] = dh[i] * up[i] * sig * (1.0 + g * (1.0 - sig));
    dup[i] = dh[i] * g * sig;
  }
}
