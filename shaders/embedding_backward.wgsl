// Scatter-add of row gradients into an embedding table without atomics: the CPU groups the
// rows by id (it knows the ids), so each (unique id, column) sums its own rows and no two
// threads write the same element. Used for token embeddings (ids) and learned positions.
//   dE[ids[u], c] += scale · Σ_{k in offsets[u] .. offsets[u+1]} dx[rows[k], c]   (scale: see embedding_forward.wgsl)
struct Params { U: u32, C: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> dx: array<f32>;
@group(0) @binding(1) var<storage, read> unique_ids: array<u32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> rows: array<u32>;
@group(0) @binding(4) var<storage, read_write> dtable: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.U * params.C) { return; }
  let u = i / params.C;
  let c = i % params.C;
  var s = 0.0;
  for (var k = offsets[u]; k < offsets[u + 1u]; k++) { s += dx[rows[k] * params.C + c]; }
  dtable[unique_ids[u] * params.C + c] += params.scale * s;
}
