// Attention of n new query rows against a generation's KV cache (one sequence), for decoding
// without rerunning the prefix. Query row i sits at position pos0 + i and sees cached keys
// j ≤ pos0 + i (those inside the window for a sliding layer: firstKey as in the training
// kernels). One workgroup per (query row, head); head h reads kv head h / (H / KVH). The cache
// holds [positions, KVH·D] rows of K and of V; q rows are [n, ldq] at column q_off.
// Scores live in the scratch w [H, n, L] (L = pos0 + n), as attention_forward.wgsl keeps P.
struct Params {
  n: u32, L: u32, pos0: u32, H: u32, KVH: u32, D: u32,
  ldq: u32, q_off: u32, ldo: u32, scale: f32, window: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kCache: array<f32>;
@group(0) @binding(2) var<storage, read> vCache: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read_write> w: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

const MASKED = -3.4e38;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  let h = wid.y;
  let D = params.D;
  let ldkv = params.KVH * D;
  let g = h / (params.H / params.KVH);
  let pos = params.pos0 + i;
  var j0 = 0u;
  if (params.window > 0u && pos >= params.window) { j0 = pos + 1u - params.window; }
  let qrow = i * params.ldq + params.q_off + h * D;
  let wrow = (h * params.n + i) * params.L;

  var mx = -3.4e38;
  for (var j = lid; j <= pos; j += 64u) {
    var s = MASKED;
    if (j >= j0) {
      s = 0.0;
      for (var d = 0u; d < D; d++) { s += q[qrow + d] * kCache[j * ldkv + g * D + d]; }
      s *= params.scale;
    }
    w[wrow + j] = s;
    mx = max(mx, s);
  }
  mx = reduceMax(lid, mx);
  var se = 0.0;
  for (var j = lid; j <= pos; j += 64u) {
    let e = exp(w[wrow + j] - mx);
    w[wrow + j] = e;
    se += e;
  }
  let inv = 1.0 / reduceSum(lid, se);
  storageBarrier();

  let orow = i * params.ldo + h * D;
  for (var d = lid; d < D; d += 64u) {
    var acc = 0.0;
    for (var j = j0; j <= pos; j++) { acc += w[wrow + j] * vCache[j * ldkv + g * D + d]; }
    o[orow + d] = acc * inv;
  }
}
