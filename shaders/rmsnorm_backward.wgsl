// dx = r·w·dy − x · r³/C · Σ(w·dy·x)   (+ dres, the gradient arriving through the residual).
override HAS_RESID: bool = false;

struct Params { T: u32, C: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> dres: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = rowIndex(wid, nwg);
  if (t >= params.T) { return; }
  let base = t * params.C;
  let r = rstd[t];
  var acc = 0.0;
  for (var c = lid; c < params.C; c += 64u) { acc += w[c] * dy[base + c] * x[base + c]; }
  let k = reduceSum(lid, acc) * r * r * r / f32(params.C);
  for (var c = lid; c < params.C; c += 64u) {
    var g = r * w[c] * dy[base + c] - x[base + c] * k;
    if (HAS_RESID) { g += dres[base + c]; }
    dx[base + c] = g;
  }
}
