// out[j] = beta · out[j] + scale[j] · Σ_t a[t, j] · b[t, j]   (· b[t, j] only with HAS_B)
// The gradients of per-feature scalings: VeRA's λ_b and λ_d, DoRA's magnitude (scale = 1/‖·‖);
// without b, the column sums that are the gradients of biases.
override HAS_SCALE: bool = false;
override HAS_B: bool = true;

struct Params { T: u32, N: u32, beta: f32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> partial: array<f32, 256>;

// 64 columns per workgroup × 4 row lanes; each lane sums every 4th row, then lanes combine.
@compute @workgroup_size(64, 4)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x * 64u + lid.x;
  var s = 0.0;
  if (j < params.N) {
    for (var t = lid.y; t < params.T; t += 4u) {
      let i = t * params.N + j;
      s += select(a[i], a[i] * b[i], HAS_B);
    }
  }
  partial[lid.y * 64u + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && j < params.N) {
    var total = partial[lid.x] + partial[64u + lid.x] + partial[128u + lid.x] + partial[192u + lid.x];
    if (HAS_SCALE) { total *= scale[j]; }
    if (params.beta != 0.0) { total += params.beta * out[j]; }
    out[j] = total;
  }
}
