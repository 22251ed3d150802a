// Appends n rows of K or V to a generation's cache: cache[pos0 + t, c] = src[t·ld + off + c] for
// c < width (the kv heads' columns; GPT-2's k and v sit inside one c_attn row, hence ld and off).
struct Params { n: u32, width: u32, ld: u32, off: u32, pos0: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> cache: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.n * params.width) { return; }
  let t = i / params.width;
  let c = i % params.width;
  cache[(params.pos0 + t) * params.width + c] = src[t * params.ld + params.off + c];
}
