// The general matmul of matmul_common.wgsl (prepended with it): a 64×64 output tile per
// workgroup, 16×16 threads, 4×4 outputs per thread held in registers, K in steps of 16 through
// workgroup memory. Every edge is bounds-checked, so any shape works.
// With LOW_RANK, the adapter's s·U·Q is added before the result leaves the registers: the
// same tile loop runs on over R more "k" values, with U and Q as the operands. Compared with a
// separate pass (C += s·U·Q), C is written once instead of read and written twice.

const BN: u32 = 64u;

var<workgroup> tileB: array<vec4<f32>, 256>; // [BK][BN/4]

fn loadTileB(t: u32, n0: u32, k0: u32) {
  if (TRANS_B) {
    // B is [N,K]: contiguous along k.
    let n = t / 4u;
    let k = (t % 4u) * 4u;
    let gn = n0 + n;
    let base = params.b_offset + gn * params.ldb + k0 + k;
    let v = loadB4(base, avail(k0 + k, params.K, gn < params.N));
    for (var i = 0u; i < 4u; i++) { tileB[(k + i) * 16u + n / 4u][n % 4u] = v[i]; }
  } else {
    // B is [K,N]: contiguous along n.
    let k = t / 16u;
    let n = (t % 16u) * 4u;
    let gk = k0 + k;
    let base = params.b_offset + gk * params.ldb + n0 + n;
    tileB[k * 16u + n / 4u] = loadB4(base, avail(n0 + n, params.N, gk < params.K));
  }
}

/** acc (this thread's 4×4 outputs) += the tiles' product over their 16 k values. */
fn accumulateTile(lid: vec3<u32>, acc: ptr<function, array<vec4<f32>, 4>>) {
  for (var k = 0u; k < BK; k++) {
    let a = tileA[k * 16u + lid.y];
    let b = tileB[k * 16u + lid.x];
    (*acc)[0] += a.x * b;
    (*acc)[1] += a.y * b;
    (*acc)[2] += a.z * b;
    (*acc)[3] += a.w * b;
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
    accumulateTile(lid, &acc);
    workgroupBarrier();
  }

  var scale = params.alpha;
  if (LOW_RANK) {
    for (var i = 0u; i < 4u; i++) { acc[i] *= params.alpha; }
    scale = 1.0;
    for (var r0 = 0u; r0 < params.R; r0 += BK) {
      loadTileU(t, m0, r0);
      loadTileQ(t, n0, r0);
      workgroupBarrier();
      accumulateTile(lid, &acc);
      workgroupBarrier();
    }
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m >= params.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x * 4u + j;
      if (n >= params.N) { break; }
      epilogue(params.c_offset + m * params.ldc + n, n, acc[i][j], scale);
    }
  }
}

/** lowrank_scale · U[m0.., r0..r0+16] into tileA (k-major), zero past the edges. */
fn loadTileU(t: u32, m0: u32, r0: u32) {
  let m = t / 4u;
  let k = (t % 4u) * 4u;
  let gm = m0 + m;
  for (var i = 0u; i < 4u; i++) {
    let gr = r0 + k + i;
    var v = 0.0;
    if (gm < params.M && gr < params.R) { v = params.lowrank_scale * lowrank_u[gm * params.ldu + gr]; }
    tileA[(k + i) * 16u + m / 4u][m % 4u] = v;
  }
}

/** Q[r0..r0+16, n0..n0+64] into tileB, zero past the edges. */
fn loadTileQ(t: u32, n0: u32, r0: u32) {
  let k = t / 16u;
  let n = (t % 16u) * 4u;
  let gr = r0 + k;
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let gn = n0 + n + i;
    if (gn < params.N && gr < params.R) {
      v[i] = lowrank_q[params.q_offset + select(gr * params.ldq + gn, gn * params.ldq + gr, TRANS_Q)];
    }
  }
  tileB[k * 16u + n / 4u] = v;
}
