// attention_forward.wgsl for CPU adapters, bit-identical to it (see common_attention_serial.wgsl):
// A = Q, Bk = K, W = P, X = V, out = O.

@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lix: u32) {
  let index = serialIndex(wid, groups, lix, SERIAL_WG);
  if (index >= blockCount()) { return; }
  let blk = rowBlock(index, params.ldq, params.q_off);

  // Scaled scores, and each row's max.
  let kcol = kvColumn(blk, params.k_off);
  var mx = vec4<f32>(-3.4e38);
  for (var j0 = 0u; j0 < blk.keys; j0 += ROWS) {
    var s = rowKeyDots(blk, j0, params.ldk, kcol);
    s *= params.scale;
    for (var c = 0u; c < ROWS; c++) {
      let j = j0 + c;
      for (var r = 0u; r < blk.rows; r++) {
        let i = blk.i0 + r;
        if (j <= i) {
          let sv = select(MASKED, s[c][r], j >= firstKey(i));
          wts[blk.wrow[r] + j] = sv;
          mx[r] = max(mx[r], sv);
        }
      }
    }
  }

  // Softmax of each row, its sum folded in the workgroup tree's order.
  for (var r = 0u; r < blk.rows; r++) {
    let prow = blk.wrow[r];
    // Zeroed explicitly: on SwiftShader a bare `var part: array<f32, 64>;` in a loop body kept
    // the previous row's sums (measured), though WGSL zeroes it at each declaration.
    var part = array<f32, 64>();
    for (var j = 0u; j <= blk.i0 + r; j++) {
      let e = exp(wts[prow + j] - mx[r]);
      wts[prow + j] = e;
      part[j % LANES] += e;
    }
    let inv = 1.0 / treeSum(&part);
    for (var j = 0u; j <= blk.i0 + r; j++) { wts[prow + j] *= inv; }
  }

  storeWeighted(blk, params.ldv, kvColumn(blk, params.v_off), params.ldo, 0u, 1.0);
}
