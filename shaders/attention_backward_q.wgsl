// Backward of attention for one query row (i, h, b):
//   dP_ij = dO_i · V_j,  dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik),  dQ_i = scale · Σ_j dS_ij K_j.
// dS is written to `ds` [B, H, S, S] for attention_backward_kv.wgsl.

@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> p: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> ds: array<f32>;
@group(0) @binding(5) var<storage, read_write> dq: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  let h = wid.y;
  let b = wid.z;
  let S = params.S;
  let D = params.D;
  let g = h / (params.H / params.KVH);
  let orow = (b * S + i) * params.ldo + h * D;
  let prow = ((b * params.H + h) * S + i) * S;

  var pdp = 0.0;
  for (var j = lid; j <= i; j += 64u) {
    let vrow = (b * S + j) * params.ldv + params.v_off + g * D;
    var dp = 0.0;
    for (var d = 0u; d < D; d++) { dp += dout[orow + d] * v[vrow + d]; }
    ds[prow + j] = dp;
    pdp += p[prow + j] * dp;
  }
  let rowDot = reduceSum(lid, pdp);
  for (var j = lid; j <= i; j += 64u) { ds[prow + j] = p[prow + j] * (ds[prow + j] - rowDot); }
  storageBarrier();

  let qrow = (b * S + i) * params.ldq + params.q_off + h * D;
  for (var d = lid; d < D; d += 64u) {
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) { acc += ds[prow + j] * k[(b * S + j) * params.ldk + params.k_off + g * D + d]; }
    dq[qrow + d] = params.scale * acc;
  }
}
