import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import type { RopeScaling } from '../formats/hf-config';
import { elementGroups } from './common';

const ropeKernel = defineKernel({
  name: 'rope',
  shaders: ['common_grid.wgsl', 'rope.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [
    ['T', 'u32'],
    ['S', 'u32'],
    ['heads', 'u32'],
    ['D', 'u32'],
    ['ld', 'u32'],
    ['direction', 'f32'],
    ['pos0', 'u32'],
  ],
});

/**
 * RoPE inverse frequencies θ^(−2i/D), i < D/2, in float64, rescaled as transformers'
 * `_compute_linear_scaling_rope_parameters` and `_compute_llama3_parameters` do.
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null = null): Float64Array {
  const freq = Float64Array.from({ length: headDim / 2 }, (_, i) => theta ** (-(2 * i) / headDim));
  if (scaling?.type === 'linear') return freq.map((f) => f / scaling.factor);
  if (scaling?.type === 'llama3') return freq.map((f) => llama3Frequency(f, scaling));
  return freq;
}

/**
 * Llama 3.x: wavelengths longer than original/low_freq_factor slow down by `factor`, those
 * shorter than original/high_freq_factor stay, and the band between blends the two smoothly.
 */
function llama3Frequency(f: number, s: Extract<RopeScaling, { type: 'llama3' }>): number {
  const wavelength = (2 * Math.PI) / f;
  if (wavelength > s.originalMaxPositions / s.lowFreqFactor) return f / s.factor;
  if (wavelength < s.originalMaxPositions / s.highFreqFactor) return f;
  const smooth = (s.originalMaxPositions / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return (1 - smooth) * (f / s.factor) + smooth * f;
}

/** cos/sin tables [positions, D/2] of angle p · invFreq[i], computed in float64. */
export function ropeTables(positions: number, invFreq: Float64Array): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i]!;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export interface RopeArgs {
  readonly x: Tensor;
  readonly cos: Tensor;
  readonly sin: Tensor;
  readonly T: number;
  /** Sequence length: position of row t is pos0 + t mod S. */
  readonly S: number;
  /** Position of the first row (a generation's cached prefix); 0 by default. */
  readonly pos0?: number;
  readonly heads: number;
  readonly headDim: number;
  /** Row stride of x in elements (defaults to heads · headDim). */
  readonly ld?: number;
  /** The backward pass applies the inverse rotation to the gradient. */
  readonly inverse?: boolean;
}

/** Rotates x in place. */
export function rope(rt: GpuRuntime, a: RopeArgs): void {
  rt.dispatch(ropeKernel, {
    bind: [a.cos, a.sin, a.x],
    uniforms: {
      T: a.T,
      S: a.S,
      heads: a.heads,
      D: a.headDim,
      ld: a.ld ?? a.heads * a.headDim,
      direction: a.inverse ? -1 : 1,
      pos0: a.pos0 ?? 0,
    },
    workgroups: elementGroups((a.T * a.heads * a.headDim) / 2),
  });
}
