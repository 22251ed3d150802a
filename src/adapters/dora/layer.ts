import type { GpuRuntime } from '../../gpu/runtime';
import type { Tensor } from '../../gpu/tensor';
import { columnDot, doraNorm, scaleColumns } from '../../kernels/adapter-ops';
import type { FrozenLinear } from '../../model/linear';
import { LoraLayer } from '../lora/layer';
import type { StepContext, TrainableParam } from '../types';

interface DoraSaved {
  /** z = W x + s·B A dropout(x), before the magnitude scaling  [T, out] */
  readonly z: Tensor;
  readonly invNorm: Tensor;
  readonly colScale: Tensor;
}

/**
 * DoRA: y = (m / ‖W + sBA‖) ⊙ (W x + s·B A x) + b, the norm taken per output row over the
 * input dimension and treated as a constant in backward (PEFT, DoRA paper §4.3).
 */
export class DoraLayer extends LoraLayer {
  private doraSaved: DoraSaved | null = null;

  constructor(
    base: FrozenLinear,
    A: TrainableParam,
    B: TrainableParam,
    readonly magnitude: TrainableParam,
    /** ‖wᵢ‖² of the frozen weight, for the norm's expansion (see shaders/dora_norm.wgsl). */
    readonly weightRowSquares: Tensor,
    rank: number,
    scale: number,
    dropoutP: number,
    seed: number,
  ) {
    super(base, A, B, rank, scale, dropoutP, seed);
  }

  override forward(rt: GpuRuntime, x: Tensor, y: Tensor, T: number, ctx: StepContext): void {
    this.releaseDora(rt);
    const out = this.base.outFeatures;
    const { invNorm, colScale } = this.norms(rt);
    const z = rt.tensor([T, out], 'dora.z');
    this.forwardWithLowRank(rt, x, z, T, ctx, false);
    scaleColumns(rt, z, colScale, y, T, out, { bias: this.base.bias ?? undefined });
    this.doraSaved = { z, invNorm, colScale };
  }

  override backward(rt: GpuRuntime, _x: Tensor, dy: Tensor, dx: Tensor, T: number, accumulate: boolean, ctx: StepContext): void {
    if (!this.doraSaved) throw new Error(`${this.base.modulePath}: backward without a training forward`);
    const { z, invNorm, colScale } = this.doraSaved;
    const out = this.base.outFeatures;
    // dm += (Σ_t dy ⊙ z) / ‖W + sBA‖
    columnDot(rt, dy, z, this.magnitude.grad, T, out, { scale: invNorm, beta: 1 });
    // dz = dy ⊙ m / ‖W + sBA‖, then the plain LoRA backward from dz
    const dz = rt.tensor([T, out], 'dora.dz');
    scaleColumns(rt, dy, colScale, dz, T, out);
    this.backwardWithLowRank(rt, dz, dx, T, accumulate, ctx);
    rt.release(dz);
  }

  override releaseSaved(rt: GpuRuntime): void {
    super.releaseSaved(rt);
    this.releaseDora(rt);
  }

  /** ΔW = (m/‖W + sBA‖) ⊙ (W + sBA) − W, in [out, in] layout. */
  override async deltaWeight(rt: GpuRuntime): Promise<Float32Array> {
    const lowRank = await super.deltaWeight(rt);
    const { invNorm, colScale } = this.norms(rt);
    const [scale, weight] = [await rt.read(colScale), await rt.read(this.base.weight)];
    rt.release(invNorm, colScale);
    const { outFeatures: out, inFeatures: inF, fanInFanOut } = this.base;
    const delta = new Float32Array(out * inF);
    for (let i = 0; i < out; i++) {
      for (let j = 0; j < inF; j++) {
        const w = fanInFanOut ? weight[j * out + i]! : weight[i * inF + j]!;
        delta[i * inF + j] = scale[i]! * (w + lowRank[i * inF + j]!) - w;
      }
    }
    return delta;
  }

  /** 1/‖W + sBA‖ and m/‖W + sBA‖ from the current A, B, m (they change every step). */
  private norms(rt: GpuRuntime): { invNorm: Tensor; colScale: Tensor } {
    const out = this.base.outFeatures;
    const invNorm = rt.tensor([out], 'dora.invNorm');
    const colScale = rt.tensor([out], 'dora.scale');
    doraNorm(rt, {
      weight: this.base.weight,
      weightRowSquares: this.weightRowSquares,
      loraA: this.A.value,
      loraB: this.B.value,
      magnitude: this.magnitude.value,
      invNorm,
      scale: colScale,
      outFeatures: out,
      inFeatures: this.base.inFeatures,
      rank: this.rank,
      s: this.scale,
      fanInFanOut: this.base.fanInFanOut,
    });
    return { invNorm, colScale };
  }

  /** Everything the layer holds beyond its parameters (the adapter releases those). */
  override destroy(rt: GpuRuntime): void {
    super.destroy(rt);
    rt.release(this.weightRowSquares);
  }

  private releaseDora(rt: GpuRuntime): void {
    if (!this.doraSaved) return;
    rt.release(this.doraSaved.z, this.doraSaved.invNorm, this.doraSaved.colScale);
    this.doraSaved = null;
  }
}
