// DoRA's per-output-row norm ‖wᵢ + s(BA)ᵢ‖ without forming W + sBA (one thread per row):
//   ‖wᵢ + s(BA)ᵢ‖² = ‖wᵢ‖² + 2s·Σₖ Bᵢₖ (W Aᵀ)ᵢₖ + s²·Σₖₗ Bᵢₖ (A Aᵀ)ₖₗ Bᵢₗ
// ‖wᵢ‖² is frozen (row_sum_squares.wgsl, once); W Aᵀ [out, r] and A Aᵀ [r, r] are small matmuls
// of the step. inv_norm = 1/‖·‖ and scale = m · inv_norm are written; in the backward pass the
// norm is a constant (detached), as in PEFT and the DoRA paper (§4.3).
struct Params { out_features: u32, r: u32, s: f32 }

@group(0) @binding(0) var<storage, read> w_row_squares: array<f32>; // [out]
@group(0) @binding(1) var<storage, read> w_at: array<f32>;          // W Aᵀ [out, r]
@group(0) @binding(2) var<storage, read> a_at: array<f32>;          // A Aᵀ [r, r]
@group(0) @binding(3) var<storage, read> b: array<f32>;             // [out, r]
@group(0) @binding(4) var<storage, read> m: array<f32>;             // [out]
@group(0) @binding(5) var<storage, read_write> inv_norm: array<f32>;
@group(0) @binding(6) var<storage, read_write> scale: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.out_features) { return; }
  let r = params.r;
  var cross = 0.0;
  var quad = 0.0;
  for (var k = 0u; k < r; k++) {
    let bik = b[i * r + k];
    cross += bik * w_at[i * r + k];
    var row = 0.0;
    for (var l = 0u; l < r; l++) { row += a_at[k * r + l] * b[i * r + l]; }
    quad += bik * row;
  }
  let s = params.s;
  // A norm squared cannot be negative; rounding in the expansion must not make it so.
  let squared = max(w_row_squares[i] + 2.0 * s * cross + s * s * quad, 1e-30);
  let inv = inverseSqrt(squared);
  inv_norm[i] = inv;
  scale[i] = m[i] * inv;
}
