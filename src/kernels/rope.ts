import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

const ropeKernel = defineKernel({
  name: 'rope', shaders: ['common_grid.wgsl', 'rope.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [['T', 'u32'], ['S', 'u32'], ['heads', 'u32'], ['D', 'u32'], ['ld', 'u32'], ['direction', 'f32']],
});

/** cos/sin tables [maxPos, D/2] in float64 precision, as HF computes inv_freq = θ^(−2i/D). */
export function ropeTables(maxPos: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(maxPos * half);
  const sin = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, -(2 * i) / headDim);
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
  /** Sequence length: position of row t is t mod S. */
  readonly S: number;
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
    uniforms: { T: a.T, S: a.S, heads: a.heads, D: a.headDim, ld: a.ld ?? a.heads * a.headDim, direction: a.inverse ? -1 : 1 },
    workgroups: elementGroups((a.T * a.heads * a.headDim) / 2),
  });
}
