// AdamW with PyTorch's semantics: decoupled decay p ← p(1 − lr·wd), then
// p ← p − (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps) with bias corrections bcᵢ = 1 − βᵢᵗ.
// The gradient is multiplied by gscale[0], the clipping factor (1 without clipping).
// 1 − β travels separately: 1 − f32(0.999) is 1.3e-5 off from 0.001.
struct Params {
  n: u32, lr: f32, beta1: f32, beta2: f32, one_minus_beta1: f32, one_minus_beta2: f32,
  eps: f32, wd: f32, bc1: f32, bc2_sqrt: f32,
}

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> gscale: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linearIndex(wid, nwg, lid);
  if (i >= params.n) { return; }
  let grad = g[i] * gscale[0];
  var w = p[i] * (1.0 - params.lr * params.wd);
  let mi = params.beta1 * m[i] + params.one_minus_beta1 * grad;
  let vi = params.beta2 * v[i] + params.one_minus_beta2 * grad * grad;
  m[i] = mi;
  v[i] = vi;
  w -= (params.lr / params.bc1) * mi / (sqrt(vi) / params.bc2_sqrt + params.eps);
  p[i] = w;
}
