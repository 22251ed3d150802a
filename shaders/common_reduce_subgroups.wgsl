// Subgroup variant of common_reduce.wgsl: the same functions, with the same results up to
// summation order. The runtime swaps it in for common_reduce.wgsl on devices with the
// 'subgroups' feature and puts `enable subgroups;` in front of the module (src/gpu/runtime.ts).
//
// It assumes nothing about the subgroup size (4..128: a 64-thread workgroup may be one partial
// subgroup) or about how subgroups map onto local_invocation_index (no API defines that
// mapping). Each subgroup reduces itself; its elected lane parks the result in partial[lid] and
// sets bit lid of `parked`; after one barrier every thread combines the parked results in
// ascending lid order, so all threads get the same total, the same on every run. Two barriers
// instead of the tree's eight, and as many workgroup-memory reads as there are subgroups.
//
// Callers must be in uniform control flow (subgroup operations need it, barriers too).
var<workgroup> partial: array<f32, 64>;
// Never cleared: subgroups keep their members for the workgroup's life and the elected lane is
// the same on every call, so bits set by an earlier call are still right. Even if not, a stale
// bit would only read a slot that this call filled with a neutral value (see below).
var<workgroup> parked: array<atomic<u32>, 2>;

fn rowIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}

/** Marks partial[lid] as holding this subgroup's result when this lane is the elected one. */
fn park(lid: u32) -> bool {
  let elected = subgroupElect();
  if (elected) { atomicOr(&parked[lid >> 5u], 1u << (lid & 31u)); }
  return elected;
}

/** Sum of `v` over the 64 threads of the workgroup; every thread gets the total. */
fn reduceSum(lid: u32, v: f32) -> f32 {
  let s = subgroupAdd(v);
  partial[lid] = select(0.0, s, park(lid)); // 0 in slots no subgroup parked in
  workgroupBarrier();
  var total = 0.0;
  for (var w = 0u; w < 2u; w++) {
    for (var m = atomicLoad(&parked[w]); m != 0u; m &= m - 1u) { total += partial[32u * w + firstTrailingBit(m)]; }
  }
  workgroupBarrier(); // the next call overwrites partial
  return total;
}

fn reduceMax(lid: u32, v: f32) -> f32 {
  let s = subgroupMax(v);
  park(lid);
  partial[lid] = s; // every lane writes its subgroup's max: harmless wherever it is read
  workgroupBarrier();
  var total = -3.4e38;
  for (var w = 0u; w < 2u; w++) {
    for (var m = atomicLoad(&parked[w]); m != 0u; m &= m - 1u) { total = max(total, partial[32u * w + firstTrailingBit(m)]); }
  }
  workgroupBarrier();
  return total;
}
