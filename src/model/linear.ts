import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { columnDot } from '../kernels/adapter-ops';
import { matmul, type LowRankTerm } from '../kernels/matmul';

/** Where a linear layer sits in the model and how its frozen weight is stored. */
export interface LinearShape {
  /** PEFT-relative module path, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly modulePath: string;
  /** Short name matched against target_modules, e.g. `q_proj` or `c_attn`. */
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** GPT-2's Conv1D stores its weight [in, out]; Linear stores [out, in]. */
  readonly fanInFanOut: boolean;
}

/**
 * A linear layer y = x Wᵀ + b on the GPU whose weight an adapter run leaves frozen: adapters wrap
 * it, calling the base products and adding their own path, and the weight gets no gradient. In
 * full-rank training (and ReLoRA's warm start) the same layer trains: the weight's gradient goes
 * to the buffer the run hands the backward pass (`baseGrads`: src/model/context.ts, src/train/full-rank.ts).
 */
export class FrozenLinear implements LinearShape {
  readonly modulePath: string;
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly fanInFanOut: boolean;

  constructor(
    shape: LinearShape,
    readonly weight: Tensor,
    readonly bias: Tensor | null,
  ) {
    this.modulePath = shape.modulePath;
    this.name = shape.name;
    this.inFeatures = shape.inFeatures;
    this.outFeatures = shape.outFeatures;
    this.fanInFanOut = shape.fanInFanOut;
  }

  /** y [T, out] = x Wᵀ (+ b) (+ beta·y) (+ an adapter's low-rank term, fused into the same pass). */
  forward(rt: GpuRuntime, x: Tensor, y: Tensor, T: number, opts: { withBias?: boolean; beta?: number; lowRank?: LowRankTerm } = {}): void {
    matmul(rt, {
      a: x,
      b: this.weight,
      c: y,
      M: T,
      N: this.outFeatures,
      K: this.inFeatures,
      transB: !this.fanInFanOut,
      beta: opts.beta ?? 0,
      bias: (opts.withBias ?? true) && this.bias ? this.bias : undefined,
      lowRank: opts.lowRank,
    });
  }

  /** dx [T, in] (+)= dy W (+ a low-rank term); `accumulate` adds to what dx holds (several consumers of one input). */
  backwardInput(rt: GpuRuntime, dy: Tensor, dx: Tensor, T: number, accumulate: boolean, lowRank?: LowRankTerm): void {
    matmul(rt, {
      a: dy,
      b: this.weight,
      c: dx,
      M: T,
      N: this.inFeatures,
      K: this.outFeatures,
      transB: this.fanInFanOut,
      beta: accumulate ? 1 : 0,
      lowRank,
    });
  }

  /** Full-rank training only: dW += dyᵀ x (Linear) or xᵀ dy (Conv1D). */
  accumulateWeightGrad(rt: GpuRuntime, x: Tensor, dy: Tensor, T: number, dW: Tensor): void {
    const { inFeatures: inF, outFeatures: out } = this;
    if (this.fanInFanOut) {
      matmul(rt, { a: x, b: dy, c: dW, M: inF, N: out, K: T, transA: true, beta: 1 });
    } else {
      matmul(rt, { a: dy, b: x, c: dW, M: out, N: inF, K: T, transA: true, beta: 1 });
    }
  }

  /** db += Σ_t dy. */
  accumulateBiasGrad(rt: GpuRuntime, dy: Tensor, T: number, dB: Tensor): void {
    columnDot(rt, dy, null, dB, T, this.outFeatures, { beta: 1 });
  }
}
