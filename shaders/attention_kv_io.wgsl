// Uniforms and bindings of attention_backward_kv.wgsl and attention_backward_kv_serial.wgsl
// (B is read by the serial kernel only; the workgroup kernel takes it from the dispatch).
struct Params {
  S: u32, H: u32, KVH: u32, D: u32,
  ldx: u32, x_off: u32, ldout: u32, out_off: u32, alpha: f32,
  B: u32,
}

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
