import type { GpuRuntime } from '../../gpu/runtime';
import type { Tensor } from '../../gpu/tensor';
import { columnDot, scaleColumns } from '../../kernels/adapter-ops';
import { dropout } from '../../kernels/elementwise';
import { matmul } from '../../kernels/matmul';
import type { FrozenLinear } from '../../model/linear';
import type { AdapterLayer, StepContext, TrainableParam } from '../types';

/** The frozen random projections shared by every VeRA layer, sliced per layer. */
export interface VeraShared {
  readonly A: Tensor; // [r, maxIn]; a layer uses A[:, :in]
  readonly B: Tensor; // [maxOut, r]; a layer uses B[:out, :]
  readonly rank: number;
  readonly maxIn: number;
}

interface VeraSaved {
  /** Whether dropout was applied (its mask is replayed on the input gradient). */
  readonly dropped: boolean;
  readonly u: Tensor; // A_s · input      [T, r]
  readonly w: Tensor; // B_s (λ_d ⊙ u)    [T, out]
}

/** VeRA: y = W x + b + λ_b ⊙ (B_s (λ_d ⊙ (A_s · dropout(x)))). */
export class VeraLayer implements AdapterLayer {
  private saved: VeraSaved | null = null;

  constructor(
    readonly base: FrozenLinear,
    private readonly shared: VeraShared,
    readonly lambdaB: TrainableParam,
    readonly lambdaD: TrainableParam,
    readonly dropoutP: number,
    private readonly seed: number,
  ) {}

  forward(rt: GpuRuntime, x: Tensor, y: Tensor, T: number, ctx: StepContext): void {
    this.releaseSaved(rt);
    const { inFeatures: inF, outFeatures: out } = this.base;
    const { A, B, rank: r, maxIn } = this.shared;
    this.base.forward(rt, x, y, T);
    const drop = ctx.training && this.dropoutP > 0;
    let input = x;
    if (drop) {
      input = rt.tensor([T, inF], 'vera.dropped');
      dropout(rt, x, input, this.dropoutP, (ctx.seed ^ this.seed) >>> 0);
    }
    const u = rt.tensor([T, r], 'vera.u');
    matmul(rt, { a: input, b: A, c: u, M: T, N: r, K: inF, transB: true, ldb: maxIn });
    const v = rt.tensor([T, r], 'vera.v');
    scaleColumns(rt, u, this.lambdaD.value, v, T, r);
    const w = rt.tensor([T, out], 'vera.w');
    matmul(rt, { a: v, b: B, c: w, M: T, N: out, K: r, transB: true, ldb: r });
    rt.release(v);
    // Nothing trainable multiplies the input directly, so backward needs no copy of it.
    if (drop) rt.release(input);
    scaleColumns(rt, w, this.lambdaB.value, y, T, out, { beta: 1 });
    this.saved = { dropped: drop, u, w };
  }

  backward(rt: GpuRuntime, _x: Tensor, dy: Tensor, dx: Tensor, T: number, accumulate: boolean, ctx: StepContext): void {
    if (!this.saved) throw new Error(`${this.base.modulePath}: backward without a training forward`);
    const { dropped, u, w } = this.saved;
    const { inFeatures: inF, outFeatures: out } = this.base;
    const { A, B, rank: r, maxIn } = this.shared;
    this.base.backwardInput(rt, dy, dx, T, accumulate);
    // dλ_b += Σ_t dy ⊙ w;  dw = dy ⊙ λ_b
    columnDot(rt, dy, w, this.lambdaB.grad, T, out, { beta: 1 });
    const dw = rt.tensor([T, out], 'vera.dw');
    scaleColumns(rt, dy, this.lambdaB.value, dw, T, out);
    // dv = dw B_s  [T, r];  dλ_d += Σ_t dv ⊙ u;  du = dv ⊙ λ_d
    const dv = rt.tensor([T, r], 'vera.dv');
    matmul(rt, { a: dw, b: B, c: dv, M: T, N: r, K: out, ldb: r });
    rt.release(dw);
    columnDot(rt, dv, u, this.lambdaD.grad, T, r, { beta: 1 });
    const du = rt.tensor([T, r], 'vera.du');
    scaleColumns(rt, dv, this.lambdaD.value, du, T, r);
    rt.release(dv);
    // dx += du A_s, through the dropout mask when one was applied
    if (dropped) {
      const dxLow = rt.tensor([T, inF], 'vera.dxLow');
      matmul(rt, { a: du, b: A, c: dxLow, M: T, N: inF, K: r, ldb: maxIn });
      dropout(rt, dxLow, dx, this.dropoutP, (ctx.seed ^ this.seed) >>> 0, 1);
      rt.release(dxLow);
    } else {
      matmul(rt, { a: du, b: A, c: dx, M: T, N: inF, K: r, ldb: maxIn, beta: 1 });
    }
    rt.release(du);
  }

  destroy(rt: GpuRuntime): void {
    this.releaseSaved(rt);
  }

  releaseSaved(rt: GpuRuntime): void {
    if (!this.saved) return;
    rt.release(this.saved.u, this.saved.w);
    this.saved = null;
  }

  /** ΔW = diag(λ_b) B_s diag(λ_d) A_s, computed on the CPU from the small factors. */
  async deltaWeight(rt: GpuRuntime): Promise<Float32Array> {
    const { inFeatures: inF, outFeatures: out } = this.base;
    const { rank: r, maxIn } = this.shared;
    const [a, b, lb, ld] = await Promise.all([
      rt.read(this.shared.A),
      rt.read(this.shared.B),
      rt.read(this.lambdaB.value),
      rt.read(this.lambdaD.value),
    ]);
    const delta = new Float32Array(out * inF);
    for (let i = 0; i < out; i++) {
      for (let k = 0; k < r; k++) {
        const coef = lb[i]! * b[i * r + k]! * ld[k]!;
        for (let j = 0; j < inF; j++) delta[i * inF + j]! += coef * a[k * maxIn + j]!;
      }
    }
    return delta;
  }
}
