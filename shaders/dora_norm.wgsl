// DoRA's per-output-row weight norm ‖W + s·B·A‖ (norm over the input dimension), one
// workgroup per output row i. inv_norm = 1/‖·‖ and scale = m · inv_norm are written; in the
// backward pass the norm is a constant (detached), as in PEFT and the DoRA paper (§4.3).
// W is [out, in], or [in, out] for GPT-2's Conv1D (FAN_IN_FAN_OUT).
override FAN_IN_FAN_OUT: bool = false;

struct Params { out_features: u32, in_features: u32, r: u32, s: f32 }

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;   // [r, in]
@group(0) @binding(2) var<storage, read> b: array<f32>;   // [out, r]
@group(0) @binding(3) var<storage, read> m: array<f32>;   // [out]
@group(0) @binding(4) var<storage, read_write> inv_norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> scale: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = rowIndex(wid, nwg);
  if (i >= params.out_features) { return; }
  var ss = 0.0;
  for (var j = lid; j < params.in_features; j += 64u) {
    var wij = select(w[i * params.in_features + j], w[j * params.out_features + i], FAN_IN_FAN_OUT);
    var ba = 0.0;
    for (var k = 0u; k < params.r; k++) { ba += b[i * params.r + k] * a[k * params.in_features + j]; }
    wij += params.s * ba;
    ss += wij * wij;
  }
  let inv = inverseSqrt(reduceSum(lid, ss));
  if (lid == 0u) {
    inv_norm[i] = inv;
    scale[i] = m[i] * inv;
  }
}
