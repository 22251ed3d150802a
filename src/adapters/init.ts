/** Seeded initialisers for new adapters (the distributions PEFT uses; the stream is our own). */

/** mulberry32: small, fast, and the same sequence in the browser and Node. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, bound: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * bound;
  return out;
}

/**
 * torch.nn.init.kaiming_uniform_ with negative slope `a` on a [rows, fanIn] matrix:
 * bound = gain·√(3 / fanIn), gain = √(2 / (1 + a²)). LoRA's A uses a = √5, i.e. bound = 1/√fanIn.
 */
export function kaimingUniform(rows: number, fanIn: number, a: number, random: () => number): Float32Array {
  const gain = Math.sqrt(2 / (1 + a * a));
  return uniform(rows * fanIn, gain * Math.sqrt(3 / fanIn), random);
}

/** A per-module seed, so each layer's stream (and dropout mask) differs. */
export function moduleSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

/** Box–Muller normals from the seeded uniform stream. */
export function normals(n: number, std: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}
