/**
 * Fingerprints that tell a checkpoint which model, dataset and bytes it belongs to. They guard
 * against resuming on the wrong inputs and against a torn file, not against tampering, so a fast
 * non-cryptographic 64-bit hash (two 32-bit lanes with cyrb53's mixing) does, synchronously and
 * the same in Node and the browser.
 */
import type { TokenSequence } from '../data/tokenize';

export class Fingerprint {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;

  private mix(x: number): void {
    this.h1 = Math.imul(this.h1 ^ x, 2654435761);
    this.h1 = (this.h1 << 13) | (this.h1 >>> 19);
    this.h2 = Math.imul(this.h2 ^ x, 1597334677);
    this.h2 = (this.h2 << 17) | (this.h2 >>> 15);
  }

  /** Whole 32-bit words (the length goes in too, so [1, 2] + [3] differs from [1] + [2, 3]). */
  words(w: ArrayLike<number>): this {
    this.mix(w.length);
    for (let i = 0; i < w.length; i++) this.mix(w[i]! | 0);
    return this;
  }

  /** Bytes, as little-endian words with the tail zero-padded (and the byte length mixed in). */
  bytes(b: Uint8Array): this {
    const whole = b.length >>> 2;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.mix(b.length);
    for (let i = 0; i < whole; i++) this.mix(view.getUint32(i * 4, true));
    let tail = 0;
    for (let i = whole * 4; i < b.length; i++) tail |= b[i]! << (8 * (i - whole * 4));
    this.mix(tail);
    return this;
  }

  text(s: string): this {
    return this.bytes(new TextEncoder().encode(s));
  }

  /** 16 hex digits. */
  digest(): string {
    let h1 = Math.imul(this.h1 ^ (this.h1 >>> 16), 2246822507) ^ Math.imul(this.h2 ^ (this.h2 >>> 13), 3266489909);
    let h2 = Math.imul(this.h2 ^ (this.h2 >>> 16), 2246822507) ^ Math.imul(this.h1 ^ (this.h1 >>> 13), 3266489909);
    h1 >>>= 0;
    h2 >>>= 0;
    return h2.toString(16).padStart(8, '0') + h1.toString(16).padStart(8, '0');
  }
}

/** Words of a float array as stored (bit patterns, so -0 and NaN payloads count). */
function floatWords(data: Float32Array): Uint32Array {
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

/** At most this many evenly spaced words of each weight go into a model's fingerprint. */
const SAMPLED_WORDS = 4096;

/**
 * A model: its config.json, every weight's name and shape, and a sample of each weight's values
 * (hashing every weight of a 1B model would take seconds; different weights of the same shapes
 * differ in the sample all the same).
 */
export function modelFingerprint(
  configJson: string,
  weights: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
): string {
  const f = new Fingerprint().text(configJson);
  for (const name of [...weights.keys()].sort()) {
    const w = weights.get(name)!;
    f.text(name).words(w.shape);
    const words = floatWords(w.data);
    const stride = Math.max(1, Math.floor(words.length / SAMPLED_WORDS));
    const sample: number[] = [];
    for (let i = 0; i < words.length; i += stride) sample.push(words[i]!);
    if (words.length > 0) sample.push(words[words.length - 1]!);
    f.words(sample);
  }
  return f.digest();
}

/** A dataset as training sees it: every train and validation sequence's ids and labels, in order. */
export function sequencesFingerprint(train: readonly TokenSequence[], val: readonly TokenSequence[]): string {
  const f = new Fingerprint();
  for (const part of [train, val]) {
    f.words([part.length]);
    for (const s of part) f.words(s.ids).words(s.labels);
  }
  return f.digest();
}
