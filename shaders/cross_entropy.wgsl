// Per row t: loss[t] = logsumexp(logits[t]) − logits[t, tgt[t]] (0 where tgt = −100).
// With WRITE_GRAD the row of logits is overwritten by d loss/d logits =
// (softmax − onehot) · inv_count, the mean over the counted targets.
override WRITE_GRAD: bool = false;

struct Params { T: u32, V: u32, inv_count: f32 }

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> losses: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = rowIndex(wid, nwg);
  if (t >= params.T) { return; }
  let base = t * params.V;
  let tgt = targets[t];
  var mx = -3.4e38;
  for (var v = lid; v < params.V; v += 64u) { mx = max(mx, logits[base + v]); }
  mx = reduceMax(lid, mx);
  var se = 0.0;
  for (var v = lid; v < params.V; v += 64u) { se += exp(logits[base + v] - mx); }
  se = reduceSum(lid, se);
  let lse = mx + log(se);
  if (lid == 0u) {
    losses[t] = select(0.0, lse - logits[base + u32(max(tgt, 0))], tgt >= 0);
  }
  if (WRITE_GRAD) {
    // Thread 0 read logits[tgt] above; the barrier keeps that read before any overwrite.
    storageBarrier();
    for (var v = lid; v < params.V; v += 64u) {
      var g = 0.0;
      if (tgt >= 0) {
        // exp(l − max)/Σ rather than exp(l − lse): lse rounds badly in f32 for large logits.
        g = exp(logits[base + v] - mx) / se;
        if (i32(v) == tgt) { g -= 1.0; }
        g *= params.inv_count;
      }
      logits[base + v] = g;
    }
  }
}
