// norm = sqrt(Σ partials); gscale[0] = min(1, max_norm / (norm + 1e-6)) as in PyTorch's
// clip_grad_norm_ (1 when max_norm ≤ 0: no clipping); gscale[1] = norm for reporting.
struct Params { count: u32, max_norm: f32 }

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> gscale: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(1)
fn main() {
  var s = 0.0;
  for (var i = 0u; i < params.count; i++) { s += partials[i]; }
  let norm = sqrt(s);
  var k = 1.0;
  if (params.max_norm > 0.0) { k = min(1.0, params.max_norm / (norm + 1e-6)); }
  gscale[0] = k;
  gscale[1] = norm;
}
