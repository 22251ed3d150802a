// With x̂ = (x − mean)·rstd and g = dy·w:  dx = rstd·(g − mean(g) − x̂·mean(g·x̂))  (+ dres).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = rowIndex(wid, nwg);
  if (t >= params.T) { return; }
  let base = t * params.C;
  let mean = stats[2u * t];
  let r = stats[2u * t + 1u];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = lid; c < params.C; c += 64u) {
    let g = dy[base + c] * w[c];
    sg += g;
    sgx += g * (x[base + c] - mean) * r;
  }
  let n = f32(params.C);
  let meanG = reduceSum(lid, sg) / n;
  let meanGX = reduceSum(lid, sgx) / n;
  for (var c = lid; c < params.C; c += 64u) {
    let xhat = (x[base + c] - mean) * r;
    var v = r * (dy[base + c] * w[c] - meanG - xhat * meanGX);
    if (HAS_RESID) { v += dres[base + c]; }
    dx[base + c] = v;
  }
}
