// Rotary position embedding in Hugging Face's rotate_half form, in place on [T, heads·D]
// (row stride `ld`): for i < D/2, (x₁, x₂) = (x[i], x[i+D/2]) turns by pos·θᵢ.
// The backward pass is the inverse rotation, so direction = −1 runs it on the gradient.
// cos/sin come from a table [positions, D/2] computed in float64 on the CPU. Row t is at
// position pos0 + t mod S (pos0: the cached prefix of a generation).
struct Params { T: u32, S: u32, heads: u32, D: u32, ld: u32, direction: f32, pos0: u32 }

@group(0) @binding(0) var<storage, read> cosTable: array<f32>;
@group(0) @binding(1) var<storage, read> sinTable: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let half = params.D / 2u;
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.T * params.heads * half) { return; }
  let t = i / (params.heads * half);
  let h = (i / half) % params.heads;
  let k = i % half;
  let pos = params.pos0 + t % params.S;
  let c = cosTable[pos * half + k];
  let s = sinTable[pos * half + k] * params.direction;
  let at = t * params.ld + h * params.D + k;
  let x1 = x[at];
  let x2 = x[at + half];
  x[at] = x1 * c - x2 * s;
  x[at + half] = x2 * c + x1 * s;
}
