// Per output row i of a linear layer, how W' = W + ΔW differs from W (one workgroup per row):
//   stats[2i]     = | ‖w'ᵢ‖ − ‖wᵢ‖ |          (magnitude change)
//   stats[2i + 1] = 1 − cos(w'ᵢ, wᵢ)          (direction change; 0 when a row is all zeros)
// W is [out, in], or [in, out] for GPT-2's Conv1D (FAN_IN_FAN_OUT); ΔW is always [out, in].
// Needs common_reduce.wgsl (rowIndex, reduceSum).
override FAN_IN_FAN_OUT: bool = false;

struct Params { out_features: u32, in_features: u32 }

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> delta: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = rowIndex(wid, nwg);
  if (i >= params.out_features) { return; }
  var base_sq = 0.0;
  var new_sq = 0.0;
  var cross = 0.0;
  for (var j = lid; j < params.in_features; j += 64u) {
    let wij = select(w[i * params.in_features + j], w[j * params.out_features + i], FAN_IN_FAN_OUT);
    let nij = wij + delta[i * params.in_features + j];
    base_sq += wij * wij;
    new_sq += nij * nij;
    cross += wij * nij;
  }
  let base_norm = sqrt(reduceSum(lid, base_sq));
  let new_norm = sqrt(reduceSum(lid, new_sq));
  let dot_total = reduceSum(lid, cross);
  if (lid == 0u) {
    let denom = base_norm * new_norm;
    stats[2u * i] = abs(new_norm - base_norm);
    stats[2u * i + 1u] = select(0.0, 1.0 - dot_total / denom, denom > 0.0);
  }
}
