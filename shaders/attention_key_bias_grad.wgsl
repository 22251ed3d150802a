// Gradient of the key bias (Qwen2's k_proj.bias) in a form that keeps float32's precision.
//
// Softmax ignores a shift shared by a query's scores, so a bias on k would get no gradient at
// all without RoPE; with RoPE it gets only what the rotation between positions leaves. Summed
// the plain way (column sums of dK), that small remainder is a difference of large terms, and
// in the dimensions that RoPE barely turns it drowns in rounding (measured on qwen2-full:
// AdamW, which divides every element by its own scale, turned that into 3e-4 errors in the
// bias). Here the shared part is removed analytically: with Σ_j dS_ij = 0,
//   d loss/d b = scale · Σ_i Σ_j dS_ij · R(θ_i − θ_j) q̃_i = scale · Σ_i Σ_j dS_ij · (R(Δ_ij) − I) q̃_i,
// q̃_i = R(−θ_i) q_i the query before RoPE, Δ_ij = (i − j)·f. (R − I) is small exactly where the
// old sum cancelled, and cos Δ − 1 = −sin²Δ / (1 + cos Δ) keeps it accurate there.
// One workgroup per (rotation pair k, kv head g); its 64 threads share the (batch, head, query)
// rows of the group; the result is added to db [KVH·D].
struct Params { S: u32, H: u32, KVH: u32, D: u32, B: u32, ldq: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> ds: array<f32>;        // dS [B, H, S, S]
@group(0) @binding(1) var<storage, read> q: array<f32>;         // q after RoPE, rows [B·S, ldq]
@group(0) @binding(2) var<storage, read> cosTable: array<f32>;  // [positions, D/2]
@group(0) @binding(3) var<storage, read> sinTable: array<f32>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

/** cos Δ − 1 without the cancellation of 1 − 1 at small Δ. */
fn cosMinusOne(c: f32, s: f32) -> f32 {
  if (c > 0.0) { return -s * s / (1.0 + c); }
  return c - 1.0;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k = wid.x;
  let g = wid.y;
  let S = params.S;
  let half = params.D / 2u;
  let group = params.H / params.KVH;
  var acc1 = 0.0;
  var acc2 = 0.0;
  for (var r = lid; r < params.B * group * S; r += 64u) {
    let i = r % S;
    let h = g * group + (r / S) % group;
    let b = r / (S * group);
    // The query before RoPE: q rotated back by θ_i.
    let qrow = (b * S + i) * params.ldq + h * params.D;
    let ci = cosTable[i * half + k];
    let si = sinTable[i * half + k];
    let x1 = q[qrow + k];
    let x2 = q[qrow + k + half];
    let a1 = x1 * ci + x2 * si;
    let a2 = x2 * ci - x1 * si;
    // Σ_j dS_ij (R(Δ_ij) − I) as its two entries; j = i has Δ = 0 and adds nothing.
    let prow = ((b * params.H + h) * S + i) * S;
    var sumC = 0.0;
    var sumS = 0.0;
    for (var j = 0u; j < i; j++) {
      let rel = (i - j) * half + k;
      let sn = sinTable[rel];
      sumC += ds[prow + j] * cosMinusOne(cosTable[rel], sn);
      sumS += ds[prow + j] * sn;
    }
    acc1 += sumC * a1 - sumS * a2;
    acc2 += sumC * a2 + sumS * a1;
  }
  let t1 = reduceSum(lid, acc1);
  let t2 = reduceSum(lid, acc2);
  if (lid == 0u) {
    db[g * params.D + k] += params.scale * t1;
    db[g * params.D + k + half] += params.scale * t2;
  }
}
