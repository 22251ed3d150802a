// For the serial attention kernels, whose value operand is the storage array `x`.

/** x[at..at+n-1] as a vec4, zero past n (n = 1..4). */
fn loadX4(at: u32, n: u32) -> vec4<f32> {
  var v = vec4<f32>(x[at], 0.0, 0.0, 0.0);
  if (n > 1u) { v.y = x[at + 1u]; }
  if (n > 2u) { v.z = x[at + 2u]; }
  if (n > 3u) { v.w = x[at + 3u]; }
  return v;
}
