// Operand access for matmul.wgsl when every 4-chunk starts 16-byte aligned (leading dimension
// and offset multiples of 4): one vec4 load per chunk, lanes past the edge masked to zero
// (select, not multiply, so whatever lies beyond the edge cannot leak in as NaN).
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;

fn maskLanes(v: vec4<f32>, n: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), v, vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(n));
}

fn loadA4(base: u32, n: u32) -> vec4<f32> {
  if (n == 0u) { return vec4<f32>(0.0); }
  return maskLanes(a[base / 4u], n);
}

fn loadB4(base: u32, n: u32) -> vec4<f32> {
  if (n == 0u) { return vec4<f32>(0.0); }
  return maskLanes(b[base / 4u], n);
}

/** A whole 4-chunk, unmasked: for chunks known to lie inside the operand. */
fn loadA4Full(base: u32) -> vec4<f32> { return a[base / 4u]; }
fn loadB4Full(base: u32) -> vec4<f32> { return b[base / 4u]; }
