// C[M,N] = alpha * op(A) op(B) + beta * C + bias[n]
//   op(A) = A [M,K] (lda)  or, with TRANS_A, the transpose of A stored [K,M]
//   op(B) = B [K,N] (ldb)  or, with TRANS_B, the transpose of B stored [N,K]
// The three products of a linear layer are X Wᵀ (TRANS_B), dY W (plain) and dYᵀ X (TRANS_A).
// 64×64 output tile per workgroup, 16×16 threads, 4×4 outputs per thread held in registers,
// K in steps of 16 through workgroup memory. Operands come in 4-wide chunks along their
// contiguous dimension through loadA4/loadB4, defined by matmul_io_vec4.wgsl or
// matmul_io_scalar.wgsl (prepended to this file). Every edge is bounds-checked, so any shape works.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;

struct Params {
  M: u32, N: u32, K: u32,
  lda: u32, ldb: u32, ldc: u32,
  a_offset: u32, b_offset: u32, c_offset: u32,
  alpha: f32, beta: f32,
}

@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

// k-major tiles, so the inner loop reads 4 consecutive rows (or columns) as one vec4.
var<workgroup> tileA: array<vec4<f32>, 256>; // [BK][BM/4]
var<workgroup> tileB: array<vec4<f32>, 256>; // [BK][BN/4]

/** Number of valid elements in a 4-chunk starting at `pos` of a dimension of length `len`. */
fn avail(pos: u32, len: u32, other_ok: bool) -> u32 {
  if (!other_ok || pos >= len) { return 0u; }
  return min(4u, len - pos);
}

fn storeScalarTile(isA: bool, k: u32, mn: u32, v: f32) {
  // Writes one element of a k-major tile; `mn` is the row (A) or column (B) inside the tile.
  let idx = k * 16u + mn / 4u;
  let lane = mn % 4u;
  if (isA) { tileA[idx][lane] = v; } else { tileB[idx][lane] = v; }
}

fn loadTileA(t: u32, m0: u32, k0: u32) {
  if (TRANS_A) {
    // A is [K,M]: contiguous along m. Thread t loads k = t/16, m = (t%16)*4 .. +4.
    let k = t / 16u;
    let m = (t % 16u) * 4u;
    let gk = k0 + k;
    let base = params.a_offset + gk * params.lda + m0 + m;
    tileA[k * 16u + m / 4u] = loadA4(base, avail(m0 + m, params.M, gk < params.K));
  } else {
    // A is [M,K]: contiguous along k. Thread t loads m = t/4, k = (t%4)*4 .. +4.
    let m = t / 4u;
    let k = (t % 4u) * 4u;
    let gm = m0 + m;
    let base = params.a_offset + gm * params.lda + k0 + k;
    let v = loadA4(base, avail(k0 + k, params.K, gm < params.M));
    storeScalarTile(true, k, m, v.x);
    storeScalarTile(true, k + 1u, m, v.y);
    storeScalarTile(true, k + 2u, m, v.z);
    storeScalarTile(true, k + 3u, m, v.w);
  }
}

fn loadTileB(t: u32, n0: u32, k0: u32) {
  if (TRANS_B) {
    // B is [N,K]: contiguous along k.
    let n = t / 4u;
    let k = (t % 4u) * 4u;
    let gn = n0 + n;
    let base = params.b_offset + gn * params.ldb + k0 + k;
    let v = loadB4(base, avail(k0 + k, params.K, gn < params.N));
    storeScalarTile(false, k, n, v.x);
    storeScalarTile(false, k + 1u, n, v.y);
    storeScalarTile(false, k + 2u, n, v.z);
    storeScalarTile(false, k + 3u, n, v.w);
  } else {
    // B is [K,N]: contiguous along n.
    let k = t / 16u;
    let n = (t % 16u) * 4u;
    let gk = k0 + k;
    let base = params.b_offset + gk * params.ldb + n0 + n;
    tileB[k * 16u + n / 4u] = loadB4(base, avail(n0 + n, params.N, gk < params.K));
  }
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.y * 16u + lid.x;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }

  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    loadTileA(t, m0, k0);
    loadTileB(t, n0, k0);
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a = tileA[k * 16u + lid.y];
      let b = tileB[k * 16u + lid.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= params.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x * 4u + j;
      if (n >= params.N) { break; }
      let idx = params.c_offset + m * params.ldc + n;
      var v = params.alpha * acc[i][j];
      if (params.beta != 0.0) { v += params.beta * c[idx]; }
      if (HAS_BIAS) { v += bias[n]; }
      c[idx] = v;
    }
  }
}
