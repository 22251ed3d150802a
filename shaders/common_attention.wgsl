// The layout uniforms shared by the attention forward and backward-q kernels: B batch rows of S
// tokens, [B·S, ld] with Q, K, V at column offsets, H query heads over KVH key/value heads of
// size D. (The workgroup kernels take B from the dispatch; the serial ones read it here.)
struct Params {
  S: u32, H: u32, KVH: u32, D: u32,
  ldq: u32, ldk: u32, ldv: u32, ldo: u32,
  q_off: u32, k_off: u32, v_off: u32, scale: f32,
  B: u32,
}
