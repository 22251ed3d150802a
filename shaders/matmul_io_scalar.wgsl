// Operand access for matmul.wgsl when a contiguous run is not 16-byte aligned.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;

fn loadA4(base: u32, n: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < n; i++) { v[i] = a[base + i]; }
  return v;
}

fn loadB4(base: u32, n: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < n; i++) { v[i] = b[base + i]; }
  return v;
}

/** A whole 4-chunk, unmasked: for chunks known to lie inside the operand. */
fn loadA4Full(base: u32) -> vec4<f32> { return vec4<f32>(a[base], a[base + 1u], a[base + 2u], a[base + 3u]); }
fn loadB4Full(base: u32) -> vec4<f32> { return vec4<f32>(b[base], b[base + 1u], b[base + 2u], b[base + 3u]); }
