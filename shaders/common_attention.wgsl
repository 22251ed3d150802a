// The layout uniforms shared by the attention forward and backward-q kernels: B batch rows of S
// tokens, [B·S, ld] with Q, K, V at column offsets, H query heads over KVH key/value heads of
// size D. (The workgroup kernels take B from the dispatch; the serial ones read it here.)
// `window` > 0 is a sliding window: query i sees keys j with i − j < window (Gemma 3's sliding
// layers); 0 is full causal attention.
struct Params {
  S: u32, H: u32, KVH: u32, D: u32,
  ldq: u32, ldk: u32, ldv: u32, ldo: u32,
  q_off: u32, k_off: u32, v_off: u32, scale: f32,
  B: u32, window: u32,
}

/** The first key query i sees. */
fn firstKey(i: u32) -> u32 {
  if (params.window == 0u || i < params.window) { return 0u; }
  return i + 1u - params.window;
}

/**
 * The score of a key outside the window: exp() of it minus the row max is exactly 0, so P_ij = 0
 * there and the backward kernels (dS_ij = P_ij · (…)) need no window of their own.
 */
const MASKED = -3.4e38;
