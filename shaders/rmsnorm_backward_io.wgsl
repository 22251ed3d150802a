// Uniforms and bindings of rmsnorm_backward.wgsl and rmsnorm_backward_serial.wgsl.
override HAS_RESID: bool = false;
// Gemma scales by (1 + w): W_OFFSET = 1.
override W_OFFSET: f32 = 0.0;

struct Params { T: u32, C: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> dres: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
