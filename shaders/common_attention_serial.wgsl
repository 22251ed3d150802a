// Shared by the serial attention kernels for CPU adapters (attention_forward_serial.wgsl and
// attention_backward_q_serial.wgsl): one invocation per block of four query rows of one
// (batch, head), no workgroup memory and no barriers. Both kernels have the same two products,
// so the operands are named by role:
//   weights  W[i, j] = Σ_d A[i, d] · Bk[j, d]   (forward: A = Q, Bk = K; backward: A = dO, Bk = V)
//   output   out[i] = α · Σ_{j ≤ i} W[i, j] · X[j] (forward: W = P, X = V; backward: W = dS, X = K)
// W lives in wts [B, H, S, S]. Each sum runs in the order of the workgroup kernels (over d in
// sequence, over keys in sequence), so serial and workgroup kernels give bit-identical results;
// what the block shares is the loads: one key's values serve four query rows.
// Invocations are numbered (query block, batch, head) with the head fastest, so the SIMD lanes
// of a CPU thread take the same rows of neighbouring heads and loop over the same keys.

@group(0) @binding(0) var<storage, read> opA: array<f32>;
@group(0) @binding(1) var<storage, read> opB: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> wts: array<f32>;

const ROWS: u32 = 4u;
const SERIAL_WG: u32 = 16u;

struct RowBlock {
  b: u32,
  h: u32,
  /** First query row, rows in the block (4 but at the end), keys any of them sees (i0 + rows). */
  i0: u32,
  rows: u32,
  keys: u32,
  /** Start of each row in A and in wts; rows past S repeat the last row (never stored). */
  arow: array<u32, 4>,
  wrow: array<u32, 4>,
}

fn blockCount() -> u32 {
  return ((params.S + ROWS - 1u) / ROWS) * params.B * params.H;
}

fn rowBlock(index: u32, ldA: u32, offA: u32) -> RowBlock {
  var blk: RowBlock;
  let heads = params.B * params.H;
  let bh = index % heads;
  blk.b = bh / params.H;
  blk.h = bh % params.H;
  blk.i0 = (index / heads) * ROWS;
  blk.rows = min(ROWS, params.S - blk.i0);
  blk.keys = blk.i0 + blk.rows;
  for (var r = 0u; r < ROWS; r++) {
    let i = min(blk.i0 + r, params.S - 1u);
    blk.arow[r] = (blk.b * params.S + i) * ldA + offA + blk.h * params.D;
    blk.wrow[r] = ((blk.b * params.H + blk.h) * params.S + i) * params.S;
  }
  return blk;
}

/** Column of key/value head data for the block's head (grouped-query attention). */
fn kvColumn(blk: RowBlock, off: u32) -> u32 {
  return off + (blk.h / (params.H / params.KVH)) * params.D;
}

/** w[c][r] = Σ_d A[i0+r, d] Bk[j0+c, d], summed over d in order. */
fn rowKeyDots(blk: RowBlock, j0: u32, ldB: u32, colB: u32) -> mat4x4<f32> {
  var brow: array<u32, 4>;
  for (var c = 0u; c < ROWS; c++) { brow[c] = (blk.b * params.S + min(j0 + c, params.S - 1u)) * ldB + colB; }
  var w = mat4x4<f32>();
  for (var d = 0u; d < params.D; d++) {
    let ad = vec4<f32>(opA[blk.arow[0] + d], opA[blk.arow[1] + d], opA[blk.arow[2] + d], opA[blk.arow[3] + d]);
    w[0] += ad * opB[brow[0] + d];
    w[1] += ad * opB[brow[1] + d];
    w[2] += ad * opB[brow[2] + d];
    w[3] += ad * opB[brow[3] + d];
  }
  return w;
}

/** acc[r] = Σ_{j ≤ i0+r} W[i0+r, j] X[j, d0..d0+3], summed over j in order. */
fn weightedRows(blk: RowBlock, d0: u32, ldX: u32, colX: u32) -> array<vec4<f32>, 4> {
  var acc = array<vec4<f32>, 4>();
  let n = min(4u, params.D - d0);
  for (var j = 0u; j < blk.keys; j++) {
    let xj = loadX4((blk.b * params.S + j) * ldX + colX + d0, n);
    if (j <= blk.i0) {
      // Key j is in every row's causal window.
      acc[0] += wts[blk.wrow[0] + j] * xj;
      acc[1] += wts[blk.wrow[1] + j] * xj;
      acc[2] += wts[blk.wrow[2] + j] * xj;
      acc[3] += wts[blk.wrow[3] + j] * xj;
    } else {
      for (var r = j - blk.i0; r < ROWS; r++) { acc[r] += wts[blk.wrow[r] + j] * xj; }
    }
  }
  return acc;
}

/** out rows of the block = alpha · W X, in the layout [B·S, ldOut] at column offOut + h·D. */
fn storeWeighted(blk: RowBlock, ldX: u32, colX: u32, ldOut: u32, offOut: u32, alpha: f32) {
  for (var d0 = 0u; d0 < params.D; d0 += 4u) {
    let acc = weightedRows(blk, d0, ldX, colX);
    let n = min(4u, params.D - d0);
    for (var r = 0u; r < blk.rows; r++) {
      let at = (blk.b * params.S + blk.i0 + r) * ldOut + offOut + blk.h * params.D + d0;
      let x = alpha * acc[r];
      for (var c = 0u; c < n; c++) { out[at + c] = x[c]; }
    }
  }
}
