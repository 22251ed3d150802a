// Gradients of a norm's affine parameters, one thread per column c (4 row lanes combined):
//   RMSNorm:   dw[c] += Σ_t dy[t,c] · x[t,c] · rstd[t]
//   LayerNorm: dw[c] += Σ_t dy[t,c] · (x[t,c] − mean[t]) · rstd[t],   db[c] += Σ_t dy[t,c]
// Only full-rank training needs these: adapters keep norms frozen.
override LAYERNORM: bool = false;

struct Params { T: u32, C: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>; // rstd [T], or (mean, rstd) [T, 2]
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> partialW: array<f32, 256>;
var<workgroup> partialB: array<f32, 256>;

@compute @workgroup_size(64, 4)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * 64u + lid.x;
  var sw = 0.0;
  var sb = 0.0;
  if (c < params.C) {
    for (var t = lid.y; t < params.T; t += 4u) {
      let g = dy[t * params.C + c];
      var xhat: f32;
      if (LAYERNORM) {
        xhat = (x[t * params.C + c] - stats[2u * t]) * stats[2u * t + 1u];
      } else {
        xhat = x[t * params.C + c] * stats[t];
      }
      sw += g * xhat;
      sb += g;
    }
  }
  let slot = lid.y * 64u + lid.x;
  partialW[slot] = sw;
  partialB[slot] = sb;
  workgroupBarrier();
  if (lid.y == 0u && c < params.C) {
    dw[c] += partialW[lid.x] + partialW[64u + lid.x] + partialW[128u + lid.x] + partialW[192u + lid.x];
    if (LAYERNORM) {
      db[c] += partialB[lid.x] + partialB[64u + lid.x] + partialB[128u + lid.x] + partialB[192u + lid.x];
    }
  }
}
