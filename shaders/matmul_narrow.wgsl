// The matmul of matmul_common.wgsl (prepended with it) for a narrow output, N ≤ 16: a 64×16
// tile per workgroup, each of the 16×16 threads holding 4 rows × 1 column. The low-rank
// products of an adapter (x·Aᵀ and dy·B with N = r, and the dA, dB reductions over tokens)
// would leave 3/4 or more of a 64×64 tile idle.
// TRANS_C stores the transpose: C[n, m] at n·ldc + m. The host uses it to turn a product with
// few ROWS (dA = duᵀ·x, M = r) into one with few columns: Cᵀ = op(B)ᵀ op(A)ᵀ.

override TRANS_C: bool = false;

const BN: u32 = 16u;

var<workgroup> tileB: array<f32, 256>; // [BK][BN]

fn loadTileB(t: u32, n0: u32, k0: u32) {
  if (t >= 64u) { return; } // 16×16 values, 4 per thread
  if (TRANS_B) {
    // B is [N,K]: contiguous along k. Thread t loads n = t/4, k = (t%4)*4 .. +4.
    let n = t / 4u;
    let k = (t % 4u) * 4u;
    let gn = n0 + n;
    let v = loadB4(params.b_offset + gn * params.ldb + k0 + k, avail(k0 + k, params.K, gn < params.N));
    for (var i = 0u; i < 4u; i++) { tileB[(k + i) * BN + n] = v[i]; }
  } else {
    // B is [K,N]: contiguous along n. Thread t loads k = t/4, n = (t%4)*4 .. +4.
    let k = t / 4u;
    let n = (t % 4u) * 4u;
    let gk = k0 + k;
    let v = loadB4(params.b_offset + gk * params.ldb + n0 + n, avail(n0 + n, params.N, gk < params.K));
    for (var i = 0u; i < 4u; i++) { tileB[k * BN + n + i] = v[i]; }
  }
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.y * 16u + lid.x;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  var acc = vec4<f32>(0.0); // rows lid.y*4 .. +4, column lid.x

  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    loadTileA(t, m0, k0);
    loadTileB(t, n0, k0);
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      acc += tileA[k * 16u + lid.y] * tileB[k * BN + lid.x];
    }
    workgroupBarrier();
  }

  let n = n0 + lid.x;
  if (n >= params.N) { return; }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= params.M) { break; }
    let idx = select(params.c_offset + m * params.ldc + n, params.c_offset + n * params.ldc + m, TRANS_C);
    epilogue(idx, n, acc[i], params.alpha);
  }
}
