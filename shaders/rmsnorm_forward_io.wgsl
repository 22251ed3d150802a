// Uniforms and bindings of rmsnorm_forward.wgsl and rmsnorm_forward_serial.wgsl.
// Gemma scales by (1 + w): W_OFFSET = 1 (adding 0 leaves every other model's bits as they were).
override W_OFFSET: f32 = 0.0;

struct Params { T: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
