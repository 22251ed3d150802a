// The layout uniforms shared by attention_forward.wgsl and attention_backward_q.wgsl: batch rows
// [B·S, ld] with Q, K, V at column offsets, H query heads over KVH key/value heads of size D.
struct Params {
  S: u32, H: u32, KVH: u32, D: u32,
  ldq: u32, ldk: u32, ldv: u32, ldo: u32,
  q_off: u32, k_off: u32, v_off: u32, scale: f32,
}
