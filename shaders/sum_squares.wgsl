// partials[slot] = Σ g²  over one gradient tensor (one workgroup); the global gradient norm
// for clipping is the square root of the sum of all slots (see clip_scale.wgsl).
struct Params { n: u32, slot: u32 }

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < params.n; i += 256u) { let v = g[i]; s += v * v; }
  partial[lid] = s;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (lid < k) { partial[lid] += partial[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[params.slot] = partial[0]; }
}
