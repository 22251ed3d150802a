import type { GpuRuntime } from '../../gpu/runtime';
import type { Tensor } from '../../gpu/tensor';
import { dropout } from '../../kernels/elementwise';
import { matmul } from '../../kernels/matmul';
import type { FrozenLinear } from '../../model/linear';
import type { AdapterLayer, StepContext, TrainableParam } from '../types';

interface LowRankSaved {
  /** The adapter's input: x itself, or dropout(x) in a buffer of our own. */
  readonly input: Tensor;
  readonly ownsInput: boolean;
  /** u = input · Aᵀ  [T, r] */
  readonly u: Tensor;
}

/**
 * LoRA on one linear layer: y = W x + b + s · B (A · dropout(x)). Dropout applies to the
 * adapter's input only, as in PEFT, from a mask seeded per step and per module.
 */
export class LoraLayer implements AdapterLayer {
  private saved: LowRankSaved | null = null;

  constructor(
    readonly base: FrozenLinear,
    readonly A: TrainableParam,
    readonly B: TrainableParam,
    readonly rank: number,
    readonly scale: number,
    readonly dropoutP: number,
    private readonly seed: number,
  ) {}

  forward(rt: GpuRuntime, x: Tensor, y: Tensor, T: number, ctx: StepContext): void {
    this.forwardWithLowRank(rt, x, y, T, ctx, true);
  }

  backward(rt: GpuRuntime, _x: Tensor, dy: Tensor, dx: Tensor, T: number, accumulate: boolean, ctx: StepContext): void {
    this.backwardWithLowRank(rt, dy, dx, T, accumulate, ctx);
  }

  releaseSaved(rt: GpuRuntime): void {
    if (!this.saved) return;
    if (this.saved.ownsInput) rt.release(this.saved.input);
    rt.release(this.saved.u);
    this.saved = null;
  }

  /** Everything the layer holds beyond its parameters (the adapter releases those). */
  destroy(rt: GpuRuntime): void {
    this.releaseSaved(rt);
  }

  async deltaWeight(rt: GpuRuntime): Promise<Float32Array> {
    const { outFeatures: out, inFeatures: inF } = this.base;
    const delta = rt.tensor([out, inF], 'deltaW');
    matmul(rt, { a: this.B.value, b: this.A.value, c: delta, M: out, N: inF, K: this.rank, alpha: this.scale });
    const data = await rt.read(delta);
    rt.release(delta);
    return data;
  }

  /**
   * ReLoRA's reset: W += s·B·A on the GPU (in the weight's own layout), then A is drawn anew
   * (Kaiming-uniform) and B zeroed, so the model's function is unchanged.
   */
  mergeAndReinit(rt: GpuRuntime, newA: Float32Array): void {
    const { inFeatures: inF, outFeatures: out, weight } = this.base;
    const r = this.rank;
    if (this.base.fanInFanOut) {
      matmul(rt, {
        a: this.A.value,
        b: this.B.value,
        c: weight,
        M: inF,
        N: out,
        K: r,
        transA: true,
        transB: true,
        alpha: this.scale,
        beta: 1,
      });
    } else {
      matmul(rt, { a: this.B.value, b: this.A.value, c: weight, M: out, N: inF, K: r, alpha: this.scale, beta: 1 });
    }
    rt.upload(this.A.value, newA);
    rt.clear(this.B.value);
  }

  private dropoutSeed(ctx: StepContext): number {
    return (ctx.seed ^ this.seed) >>> 0;
  }

  /**
   * y = W x (+ b) + s · B (A · dropout(x)): u = A · dropout(x) by the narrow matmul, then the
   * frozen product with s·u·Bᵀ in its epilogue (one pass over y). Keeps the adapter input and u.
   */
  protected forwardWithLowRank(rt: GpuRuntime, x: Tensor, y: Tensor, T: number, ctx: StepContext, withBias: boolean): void {
    this.releaseSaved(rt);
    const inF = this.base.inFeatures;
    const r = this.rank;
    const drop = ctx.training && this.dropoutP > 0;
    let input = x;
    if (drop) {
      input = rt.tensor([T, inF], 'lora.dropped');
      dropout(rt, x, input, this.dropoutP, this.dropoutSeed(ctx));
    }
    const u = rt.tensor([T, r], 'lora.u');
    matmul(rt, { a: input, b: this.A.value, c: u, M: T, N: r, K: inF, transB: true });
    this.base.forward(rt, x, y, T, { withBias, lowRank: { u, q: this.B.value, rank: r, scale: this.scale, transQ: true } });
    this.saved = { input, ownsInput: drop, u };
  }

  /**
   * dx (+)= W-path + low-rank path of dy, and the gradients of A and B. Without dropout, du·A is
   * fused into the frozen dx product's epilogue; with it, du·A goes through the dropout mask first.
   */
  protected backwardWithLowRank(rt: GpuRuntime, dy: Tensor, dx: Tensor, T: number, accumulate: boolean, ctx: StepContext): void {
    if (!this.saved) throw new Error(`${this.base.modulePath}: backward without a training forward`);
    const { input, u, ownsInput } = this.saved;
    const { inFeatures: inF, outFeatures: out } = this.base;
    const r = this.rank;
    const s = this.scale;
    // dB += s · dyᵀ u    [out, r]
    matmul(rt, { a: dy, b: u, c: this.B.grad, M: out, N: r, K: T, transA: true, alpha: s, beta: 1 });
    // du = s · dy B      [T, r]
    const du = rt.tensor([T, r], 'lora.du');
    matmul(rt, { a: dy, b: this.B.value, c: du, M: T, N: r, K: out, alpha: s });
    // dA += duᵀ input    [r, in]
    matmul(rt, { a: du, b: input, c: this.A.grad, M: r, N: inF, K: T, transA: true, beta: 1 });
    if (ownsInput) {
      this.base.backwardInput(rt, dy, dx, T, accumulate);
      const dxLow = rt.tensor([T, inF], 'lora.dxLow');
      matmul(rt, { a: du, b: this.A.value, c: dxLow, M: T, N: inF, K: r });
      dropout(rt, dxLow, dx, this.dropoutP, this.dropoutSeed(ctx), 1);
      rt.release(dxLow);
    } else {
      this.base.backwardInput(rt, dy, dx, T, accumulate, { u: du, q: this.A.value, rank: r, scale: 1, transQ: false });
    }
    rt.release(du);
  }
}
