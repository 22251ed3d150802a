// Shared by the matmul kernels (matmul.wgsl: 64×64 tiles; matmul_narrow.wgsl: 64×16 tiles):
//   C[M,N] = alpha * op(A) op(B) + beta * C + bias[n]
//   op(A) = A [M,K] (lda)  or, with TRANS_A, the transpose of A stored [K,M]
//   op(B) = B [K,N] (ldb)  or, with TRANS_B, the transpose of B stored [N,K]
//     + lowrank_scale * U Q   (LOW_RANK, square tile only: an adapter's low-rank path as epilogue)
//   U [M,R] (ldu), Q [R,N] (ldq, q_offset) or, with TRANS_Q, the transpose of Q stored [N,R]
// The three products of a linear layer are X Wᵀ (TRANS_B), dY W (plain) and dYᵀ X (TRANS_A).
// A's tile is 64 rows × 16 k, loaded by 256 threads in 4-wide chunks along A's contiguous
// dimension through loadA4 (matmul_io_vec4.wgsl or matmul_io_scalar.wgsl, prepended).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override LOW_RANK: bool = false;
override TRANS_Q: bool = false;

struct Params {
  M: u32, N: u32, K: u32,
  lda: u32, ldb: u32, ldc: u32,
  a_offset: u32, b_offset: u32, c_offset: u32,
  alpha: f32, beta: f32,
  R: u32, ldu: u32, ldq: u32, q_offset: u32, lowrank_scale: f32,
}

@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> lowrank_u: array<f32>;
@group(0) @binding(5) var<storage, read> lowrank_q: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

const BM: u32 = 64u;
const BK: u32 = 16u;

// k-major, so the inner loop reads 4 consecutive rows as one vec4: [BK][BM/4].
var<workgroup> tileA: array<vec4<f32>, 256>;

/** Number of valid elements in a 4-chunk starting at `pos` of a dimension of length `len`. */
fn avail(pos: u32, len: u32, other_ok: bool) -> u32 {
  if (!other_ok || pos >= len) { return 0u; }
  return min(4u, len - pos);
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
    // A is [M,K]: contiguous along k. Thread t loads m = t/4, k = (t%4)*4 .. +4, and scatters
    // the four values to four k-rows of the tile.
    let m = t / 4u;
    let k = (t % 4u) * 4u;
    let gm = m0 + m;
    let base = params.a_offset + gm * params.lda + k0 + k;
    let v = loadA4(base, avail(k0 + k, params.K, gm < params.M));
    for (var i = 0u; i < 4u; i++) { tileA[(k + i) * 16u + m / 4u][m % 4u] = v[i]; }
  }
}

/** scale·acc + beta·C + bias at one output element (C is read only when beta ≠ 0). */
fn epilogue(idx: u32, n: u32, acc: f32, scale: f32) {
  var v = scale * acc;
  if (params.beta != 0.0) { v += params.beta * c[idx]; }
  if (HAS_BIAS) { v += bias[n]; }
  c[idx] = v;
}
