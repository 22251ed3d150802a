// GELU, tanh form (gelu_new): 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).
// tanh's argument is clamped: some backends return NaN for large inputs, and tanh(±10) is ±1
// to f32 precision.
fn geluInner(x: f32) -> f32 {
  return clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -10.0, 10.0);
}

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + tanh(geluInner(x)));
}

fn geluGrad(x: f32) -> f32 {
  let th = tanh(geluInner(x));
  return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * x * x);
}
