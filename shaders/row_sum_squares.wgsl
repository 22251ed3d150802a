// Σ_j W[i, j]² per output row i (over the input dimension), one workgroup per row. DoRA keeps
// these of its frozen weight, so that the per-step norm ‖W + sBA‖ never reads W row by row
// again (dora_norm.wgsl). W is [out, in], or [in, out] for GPT-2's Conv1D (FAN_IN_FAN_OUT).
override FAN_IN_FAN_OUT: bool = false;

struct Params { out_features: u32, in_features: u32 }

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> row_squares: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = rowIndex(wid, nwg);
  if (i >= params.out_features) { return; }
  var ss = 0.0;
  for (var j = lid; j < params.in_features; j += 64u) {
    let wij = select(w[i * params.in_features + j], w[j * params.out_features + i], FAN_IN_FAN_OUT);
    ss += wij * wij;
  }
  let total = reduceSum(lid, ss);
  if (lid == 0u) { row_squares[i] = total; }
}
