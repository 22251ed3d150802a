// The general matmul of matmul_common.wgsl (prepended with it): a 64×64 output tile per
// workgroup, 16×16 threads, 4×4 outputs per thread held in registers, K in steps of 16 through
// workgroup memory. Every edge is bounds-checked, so any shape works.

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
      epilogue(params.c_offset + m * params.ldc + n, n, acc[i][j]);
    }
  }
}
