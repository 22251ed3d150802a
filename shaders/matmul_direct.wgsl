// The matmul of matmul_common.wgsl (prepended with it) for CPU adapters (SwiftShader, llvmpipe):
// no workgroup memory and no barriers. Each invocation computes one 4×4 block of C from
// operands read straight from storage, four k at a time, as one 4×4 matrix product.
// Why: on a CPU, "workgroup memory" is ordinary RAM behind the same caches as storage, so the
// tiled kernel's staging copy buys nothing, and every workgroupBarrier() switches between the
// fibres that emulate the workgroup's invocations. Measured on SwiftShader: 1.2–2.6× the
// tiled kernel at the shapes of a training step (bench/node-bench.ts prints both).
// WIDE makes the block 16×16: per 4 values of k, four At and four Bm feed sixteen 4×4 products,
// a quarter of the loads per multiply-add. Measured on SwiftShader at the shapes of a training
// step (bench/node-bench.ts): 1.4–2.3× the 4×4 block, ahead of 8×8, 16×8 and 8×16 blocks.
// Every element is still one 4×4 product per k-chunk added in k order, so all block sizes give
// bit-identical results.
// Blocks are numbered row-major over C (n fastest) and dealt out 64 per workgroup, so narrow
// products (N or M = an adapter's rank) waste no invocations at the 4×4 block.
// LOW_RANK adds lowrank_scale·U·Q after alpha·op(A)op(B), like the tiled kernel's epilogue.

const BLOCK: u32 = 4u;
const INVOCATIONS: u32 = 64u;
/** 16×16 blocks (a 4×4 grid of 4×4 products sharing their loads) instead of 4×4. */
override WIDE: bool = false;
const WIDE_QUARTERS: u32 = 4u;

// Operand chunks as 4×4 matrices, so that one k-chunk's contribution is one matrix product:
// At's column k holds A[m0..m0+3, k0+k] and Bm's column j holds B[k0..k0+3, n0+j], and
// (At · Bm)[j][i] = Σ_k A[m0+i, k0+k] B[k0+k, n0+j]. A value that lies past M (or N) only ever
// meets outputs past M (or N), which are never stored, so full chunks load rows past the edge
// from the last row instead of masking: only the k edge must read as zero.

/** Start of row m0+i of A [M,K] (clamped to the last row). */
fn rowA(m0: u32, i: u32) -> u32 { return params.a_offset + min(m0 + i, params.M - 1u) * params.lda; }

/** Start of row n0+j of B stored [N,K] (clamped to the last row). */
fn rowB(n0: u32, j: u32) -> u32 { return params.b_offset + min(n0 + j, params.N - 1u) * params.ldb; }

/** At for a chunk whose four k lie inside K. */
fn loadAtFull(m0: u32, k0: u32) -> mat4x4<f32> {
  if (TRANS_A) {
    // A is [K,M]: row k0+k is contiguous along m, and is column k of At as loaded.
    let base = params.a_offset + k0 * params.lda + m0;
    let ld = params.lda;
    return mat4x4<f32>(loadA4Full(base), loadA4Full(base + ld), loadA4Full(base + 2u * ld), loadA4Full(base + 3u * ld));
  }
  // A is [M,K]: row m0+i is contiguous along k.
  return transpose(mat4x4<f32>(
    loadA4Full(rowA(m0, 0u) + k0), loadA4Full(rowA(m0, 1u) + k0), loadA4Full(rowA(m0, 2u) + k0), loadA4Full(rowA(m0, 3u) + k0)));
}

/** At for the last, partial chunk: n = K − k0 (1..3) valid k, the rest zero. */
fn loadAtTail(m0: u32, k0: u32, n: u32) -> mat4x4<f32> {
  if (TRANS_A) {
    let cols = avail(m0, params.M, true);
    let base = params.a_offset + k0 * params.lda + m0;
    let ld = params.lda;
    return mat4x4<f32>(
      loadA4(base, cols), loadA4(base + ld, select(0u, cols, n > 1u)), loadA4(base + 2u * ld, select(0u, cols, n > 2u)), vec4<f32>(0.0));
  }
  return transpose(mat4x4<f32>(
    loadA4(rowA(m0, 0u) + k0, n), loadA4(rowA(m0, 1u) + k0, n), loadA4(rowA(m0, 2u) + k0, n), loadA4(rowA(m0, 3u) + k0, n)));
}

/** Bm for a chunk whose four k lie inside K. */
fn loadBmFull(n0: u32, k0: u32) -> mat4x4<f32> {
  if (TRANS_B) {
    // B is [N,K]: row n0+j is contiguous along k, and is column j of Bm as loaded.
    return mat4x4<f32>(
      loadB4Full(rowB(n0, 0u) + k0), loadB4Full(rowB(n0, 1u) + k0), loadB4Full(rowB(n0, 2u) + k0), loadB4Full(rowB(n0, 3u) + k0));
  }
  // B is [K,N]: row k0+k is contiguous along n.
  let base = params.b_offset + k0 * params.ldb + n0;
  let ld = params.ldb;
  return transpose(mat4x4<f32>(loadB4Full(base), loadB4Full(base + ld), loadB4Full(base + 2u * ld), loadB4Full(base + 3u * ld)));
}

/** Bm for the last, partial chunk: n = K − k0 (1..3) valid k, the rest zero. */
fn loadBmTail(n0: u32, k0: u32, n: u32) -> mat4x4<f32> {
  if (TRANS_B) {
    return mat4x4<f32>(
      loadB4(rowB(n0, 0u) + k0, n), loadB4(rowB(n0, 1u) + k0, n), loadB4(rowB(n0, 2u) + k0, n), loadB4(rowB(n0, 3u) + k0, n));
  }
  let cols = avail(n0, params.N, true);
  let base = params.b_offset + k0 * params.ldb + n0;
  let ld = params.ldb;
  return transpose(mat4x4<f32>(
    loadB4(base, cols), loadB4(base + ld, select(0u, cols, n > 1u)), loadB4(base + 2u * ld, select(0u, cols, n > 2u)), vec4<f32>(0.0)));
}

/** Start of row m0+i of U [M,R] (clamped to the last row). */
fn rowU(m0: u32, i: u32) -> u32 { return min(m0 + i, params.M - 1u) * params.ldu; }

/** lowrank_scale · U[m0.., r0..r0+3] in the layout of loadAt, zero past the edges. */
fn loadUt(m0: u32, r0: u32) -> mat4x4<f32> {
  if (r0 + BLOCK <= params.R) {
    // A whole chunk of rank: rows past M repeat the last (they only meet outputs never stored).
    let u0 = rowU(m0, 0u) + r0;
    let u1 = rowU(m0, 1u) + r0;
    let u2 = rowU(m0, 2u) + r0;
    let u3 = rowU(m0, 3u) + r0;
    return params.lowrank_scale * mat4x4<f32>(
      vec4<f32>(lowrank_u[u0], lowrank_u[u1], lowrank_u[u2], lowrank_u[u3]),
      vec4<f32>(lowrank_u[u0 + 1u], lowrank_u[u1 + 1u], lowrank_u[u2 + 1u], lowrank_u[u3 + 1u]),
      vec4<f32>(lowrank_u[u0 + 2u], lowrank_u[u1 + 2u], lowrank_u[u2 + 2u], lowrank_u[u3 + 2u]),
      vec4<f32>(lowrank_u[u0 + 3u], lowrank_u[u1 + 3u], lowrank_u[u2 + 3u], lowrank_u[u3 + 3u]));
  }
  var cols: array<vec4<f32>, 4>;
  for (var k = 0u; k < 4u; k++) {
    for (var i = 0u; i < 4u; i++) {
      let gm = m0 + i;
      let gr = r0 + k;
      if (gm < params.M && gr < params.R) { cols[k][i] = params.lowrank_scale * lowrank_u[gm * params.ldu + gr]; }
    }
  }
  return mat4x4<f32>(cols[0], cols[1], cols[2], cols[3]);
}

/** Q[r0..r0+3, n0..] in the layout of loadBm, zero past the edges. */
fn loadQm(n0: u32, r0: u32) -> mat4x4<f32> {
  if (r0 + BLOCK <= params.R) {
    // A whole chunk of rank: columns past N repeat the last (they only meet outputs never stored).
    return mat4x4<f32>(columnQ(n0, r0), columnQ(n0 + 1u, r0), columnQ(n0 + 2u, r0), columnQ(n0 + 3u, r0));
  }
  var cols: array<vec4<f32>, 4>;
  for (var j = 0u; j < 4u; j++) {
    for (var k = 0u; k < 4u; k++) {
      let gn = n0 + j;
      let gr = r0 + k;
      if (gn < params.N && gr < params.R) {
        cols[j][k] = lowrank_q[params.q_offset + select(gr * params.ldq + gn, gn * params.ldq + gr, TRANS_Q)];
      }
    }
  }
  return mat4x4<f32>(cols[0], cols[1], cols[2], cols[3]);
}

/** Q[r0..r0+3, n] for a whole chunk of rank, n clamped to the last column. */
fn columnQ(n: u32, r0: u32) -> vec4<f32> {
  let gn = min(n, params.N - 1u);
  let at = params.q_offset + select(r0 * params.ldq + gn, gn * params.ldq + r0, TRANS_Q);
  let step = select(params.ldq, 1u, TRANS_Q);
  return vec4<f32>(lowrank_q[at], lowrank_q[at + step], lowrank_q[at + 2u * step], lowrank_q[at + 3u * step]);
}

/** Four 4×4 quarters side by side: one 4-row strip of a 16×16 block, c[q][j][i] = C[m+i, n+4q+j]. */
struct Strip { c0: mat4x4<f32>, c1: mat4x4<f32>, c2: mat4x4<f32>, c3: mat4x4<f32> }

/** The strip's products with one k-chunk: At (its rows) times the four column chunks. */
fn accumulate(s: ptr<function, Strip>, at: mat4x4<f32>, b0: mat4x4<f32>, b1: mat4x4<f32>, b2: mat4x4<f32>, b3: mat4x4<f32>) {
  (*s).c0 += at * b0;
  (*s).c1 += at * b1;
  (*s).c2 += at * b2;
  (*s).c3 += at * b3;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let size = select(BLOCK, WIDE_QUARTERS * BLOCK, WIDE);
  let blocksN = (params.N + size - 1u) / size;
  let blocksM = (params.M + size - 1u) / size;
  let block = (wid.y * groups.x + wid.x) * INVOCATIONS + lix;
  if (block >= blocksM * blocksN) { return; }
  let m0 = (block / blocksN) * size;
  let n0 = (block % blocksN) * size;
  if (WIDE) {
    wideBlock(m0, n0);
    return;
  }
  // acc[j][i] = C[m0+i, n0+j]
  var acc = mat4x4<f32>();
  let kFull = params.K & ~3u;
  for (var k0 = 0u; k0 < kFull; k0 += BLOCK) {
    acc += loadAtFull(m0, k0) * loadBmFull(n0, k0);
  }
  if (kFull < params.K) {
    let n = params.K - kFull;
    acc += loadAtTail(m0, kFull, n) * loadBmTail(n0, kFull, n);
  }
  if (LOW_RANK) {
    acc *= params.alpha;
    for (var r0 = 0u; r0 < params.R; r0 += BLOCK) { acc += loadUt(m0, r0) * loadQm(n0, r0); }
  }
  storeBlock(m0, n0, acc);
}

/** The 16×16 block at (m0, n0) as four strips of four quarters. */
fn wideBlock(m0: u32, n0: u32) {
  var s0: Strip;
  var s1: Strip;
  var s2: Strip;
  var s3: Strip;
  let n1 = n0 + BLOCK;
  let n2 = n0 + 2u * BLOCK;
  let n3 = n0 + 3u * BLOCK;
  let kFull = params.K & ~3u;
  for (var k0 = 0u; k0 < kFull; k0 += BLOCK) {
    let b0 = loadBmFull(n0, k0);
    let b1 = loadBmFull(n1, k0);
    let b2 = loadBmFull(n2, k0);
    let b3 = loadBmFull(n3, k0);
    accumulate(&s0, loadAtFull(m0, k0), b0, b1, b2, b3);
    accumulate(&s1, loadAtFull(m0 + BLOCK, k0), b0, b1, b2, b3);
    accumulate(&s2, loadAtFull(m0 + 2u * BLOCK, k0), b0, b1, b2, b3);
    accumulate(&s3, loadAtFull(m0 + 3u * BLOCK, k0), b0, b1, b2, b3);
  }
  if (kFull < params.K) {
    let n = params.K - kFull;
    let b0 = loadBmTail(n0, kFull, n);
    let b1 = loadBmTail(n1, kFull, n);
    let b2 = loadBmTail(n2, kFull, n);
    let b3 = loadBmTail(n3, kFull, n);
    accumulate(&s0, loadAtTail(m0, kFull, n), b0, b1, b2, b3);
    accumulate(&s1, loadAtTail(m0 + BLOCK, kFull, n), b0, b1, b2, b3);
    accumulate(&s2, loadAtTail(m0 + 2u * BLOCK, kFull, n), b0, b1, b2, b3);
    accumulate(&s3, loadAtTail(m0 + 3u * BLOCK, kFull, n), b0, b1, b2, b3);
  }
  if (LOW_RANK) {
    // alpha·acc + U Q as in the 4×4 path (same operations per element), each chunk of U and
    // Q loaded once for the block instead of once per quarter.
    scaleStrip(&s0);
    scaleStrip(&s1);
    scaleStrip(&s2);
    scaleStrip(&s3);
    for (var r0 = 0u; r0 < params.R; r0 += BLOCK) {
      let q0 = loadQm(n0, r0);
      let q1 = loadQm(n1, r0);
      let q2 = loadQm(n2, r0);
      let q3 = loadQm(n3, r0);
      accumulate(&s0, loadUt(m0, r0), q0, q1, q2, q3);
      accumulate(&s1, loadUt(m0 + BLOCK, r0), q0, q1, q2, q3);
      accumulate(&s2, loadUt(m0 + 2u * BLOCK, r0), q0, q1, q2, q3);
      accumulate(&s3, loadUt(m0 + 3u * BLOCK, r0), q0, q1, q2, q3);
    }
  }
  storeStrip(m0, n0, s0);
  storeStrip(m0 + BLOCK, n0, s1);
  storeStrip(m0 + 2u * BLOCK, n0, s2);
  storeStrip(m0 + 3u * BLOCK, n0, s3);
}

fn scaleStrip(s: ptr<function, Strip>) {
  (*s).c0 *= params.alpha;
  (*s).c1 *= params.alpha;
  (*s).c2 *= params.alpha;
  (*s).c3 *= params.alpha;
}

fn storeStrip(m: u32, n0: u32, s: Strip) {
  storeBlock(m, n0, s.c0);
  storeBlock(m, n0 + BLOCK, s.c1);
  storeBlock(m, n0 + 2u * BLOCK, s.c2);
  storeBlock(m, n0 + 3u * BLOCK, s.c3);
}

/**
 * C[m0.., n0..] of one 4×4 quarter through the epilogue: alpha·acc, or acc as it stands with
 * LOW_RANK, where alpha was applied before the low-rank term was added.
 */
fn storeBlock(m0: u32, n0: u32, acc: mat4x4<f32>) {
  let scale = select(params.alpha, 1.0, LOW_RANK);
  for (var i = 0u; i < BLOCK; i++) {
    let m = m0 + i;
    if (m >= params.M) { break; }
    for (var j = 0u; j < BLOCK; j++) {
      let n = n0 + j;
      if (n >= params.N) { break; }
      epilogue(params.c_offset + m * params.ldc + n, n, acc[j][i], scale);
    }
  }
}
