// attention_backward_q.wgsl for CPU adapters, bit-identical to it (see
// common_attention_serial.wgsl): A = dO, Bk = V give dP; W = dS, X = K, out = dQ.

@group(0) @binding(5) var<storage, read> p: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let index = serialIndex(wid, groups, lix, SERIAL_WG);
  if (index >= blockCount()) { return; }
  let blk = rowBlock(index, params.ldo, 0u);

  // dP (kept in wts) and each row's Σ_j P dP, in lane partials as the workgroup kernel has them.
  let vcol = kvColumn(blk, params.v_off);
  var part = array<array<f32, 64>, 4>();
  for (var j0 = 0u; j0 < blk.keys; j0 += ROWS) {
    let dp = rowKeyDots(blk, j0, params.ldv, vcol);
    for (var c = 0u; c < ROWS; c++) {
      let j = j0 + c;
      for (var r = 0u; r < blk.rows; r++) {
        if (j <= blk.i0 + r) {
          wts[blk.wrow[r] + j] = dp[c][r];
          part[r][j % LANES] += p[blk.wrow[r] + j] * dp[c][r];
        }
      }
    }
  }

  // dS = P (dP − Σ_j P dP).
  for (var r = 0u; r < blk.rows; r++) {
    let prow = blk.wrow[r];
    let rowDot = treeSum(&part[r]);
    for (var j = 0u; j <= blk.i0 + r; j++) { wts[prow + j] = p[prow + j] * (wts[prow + j] - rowDot); }
  }

  storeWeighted(blk, params.ldk, kvColumn(blk, params.k_off), params.ldq, params.q_off, params.scale);
}
