// out[t, c] = table[ids[t], c] · scale (+ positions[pos0 + t % S, c] for learned positions, GPT-2).
// Gemma scales its embeddings by √hidden; pos0 is the first position of a cached generation.
// A table larger than one binding is split into blocks of rows: this dispatch holds rows
// [row0, row0 + rows) and writes only the tokens whose ids fall there, so every token is written
// by exactly one block's dispatch (its position added once).
override HAS_POS: bool = false;

struct Params { T: u32, C: u32, S: u32, scale: f32, pos0: u32, row0: u32, rows: u32 }

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.T * params.C) { return; }
  let t = i / params.C;
  let c = i % params.C;
  let row = ids[t] - params.row0; // wraps below row0, so one comparison tests both ends
  if (row >= params.rows) { return; }
  var v = table[row * params.C + c] * params.scale;
  if (HAS_POS) { v += positions[(params.pos0 + t % params.S) * params.C + c]; }
  out[i] = v;
}
