// PCG hash (Jarzynski & Olano): a counter-based random stream, u32 → u32.
fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

/** A uniform float in [0, 1) for element i of the stream `seed`. */
fn uniform01(i: u32, seed: u32) -> f32 {
  return f32(pcgHash(i ^ pcgHash(seed)) >> 8u) / 16777216.0;
}
