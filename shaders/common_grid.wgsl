// Linear index of an invocation in a 1-D problem dispatched as a 2-D grid of 256-wide
// workgroups (grids wider than 65535 workgroups spill into y; see grid() in runtime.ts).
fn linearIndex(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid;
}
