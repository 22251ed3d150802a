// Causal softmax attention with grouped-query heads. One workgroup per (query i, head h,
// batch b); head h reads key/value head h / (H / KVH). Q, K, V are rows of [B·S, ld] at
// column offsets (GPT-2 keeps them side by side in one c_attn output). The probabilities P
// [B, H, S, S] (row i filled for j ≤ i, 0 outside a sliding window) are kept for the backward pass.

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read_write> p: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  let h = wid.y;
  let b = wid.z;
  let S = params.S;
  let D = params.D;
  let g = h / (params.H / params.KVH);
  let qrow = (b * S + i) * params.ldq + params.q_off + h * D;
  let prow = ((b * params.H + h) * S + i) * S;

  let j0 = firstKey(i);
  var mx = -3.4e38;
  for (var j = lid; j <= i; j += 64u) {
    var s = MASKED;
    if (j >= j0) {
      let krow = (b * S + j) * params.ldk + params.k_off + g * D;
      s = 0.0;
      for (var d = 0u; d < D; d++) { s += q[qrow + d] * k[krow + d]; }
      s *= params.scale;
    }
    p[prow + j] = s;
    mx = max(mx, s);
  }
  mx = reduceMax(lid, mx);
  var se = 0.0;
  for (var j = lid; j <= i; j += 64u) {
    let e = exp(p[prow + j] - mx);
    p[prow + j] = e;
    se += e;
  }
  let inv = 1.0 / reduceSum(lid, se);
  for (var j = lid; j <= i; j += 64u) { p[prow + j] *= inv; }
  storageBarrier();

  let orow = (b * S + i) * params.ldo + h * D;
  for (var d = lid; d < D; d += 64u) {
    var acc = 0.0;
    for (var j = j0; j <= i; j++) {
      acc += p[prow + j] * v[(b * S + j) * params.ldv + params.v_off + g * D + d];
    }
    o[orow + d] = acc;
  }
}
