/**
 * What the model sees of an adapter: the layer interface its linear layers route through, the
 * trainable tensors, and the per-step context. The methods that implement it live in
 * src/adapters/<method>/; the model and the training loop depend only on this file.
 */
import type { AdapterSpec } from '../formats/peft';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import type { FrozenLinear } from './linear';

/** What every step shares with the adapter layers. */
export interface StepContext {
  /** Training applies dropout; evaluation and generation do not. */
  readonly training: boolean;
  /** Changes every step so dropout masks differ between steps but repeat in backward. */
  readonly seed: number;
}

/** A trainable tensor with its gradient, under its PEFT key. */
export interface TrainableParam {
  readonly key: string;
  readonly value: Tensor;
  readonly grad: Tensor;
}

/**
 * The adapter attached to one linear layer. It owns the whole layer's forward (DoRA rescales
 * the base output, so it cannot simply add a term) and the matching backward.
 */
export interface AdapterLayer {
  readonly base: FrozenLinear;
  /** y [T, out] = adapted layer applied to x [T, in]; keeps what backward needs. */
  forward(rt: GpuRuntime, x: Tensor, y: Tensor, T: number, ctx: StepContext): void;
  /**
   * Adds d loss/d param to the gradients and writes (or, with `accumulate`, adds) d loss/d x.
   * Must follow a training forward with the same x and T.
   */
  backward(rt: GpuRuntime, x: Tensor, dy: Tensor, dx: Tensor, T: number, accumulate: boolean, ctx: StepContext): void;
  /** Releases what forward kept for backward (after backward, or after an eval forward). */
  releaseSaved(rt: GpuRuntime): void;
  /** Releases what forward kept and anything else the layer owns beyond the adapter's parameters. */
  destroy(rt: GpuRuntime): void;
  /** ΔW = W' − W as a dense [out, in] matrix (row-major, Linear layout), for merging and analysis. */
  deltaWeight(rt: GpuRuntime): Promise<Float32Array>;
}

/**
 * One vector per adapted layer that a method trains besides ΔW (VeRA's λ_b and λ_d), for the
 * studio to draw as a heatmap with a row per layer.
 */
export interface LayerVectors {
  readonly title: string;
  /** The heatmap's test id and React key. */
  readonly id: string;
  readonly rows: readonly { readonly modulePath: string; readonly values: Float32Array }[];
}

/** A whole adapter: one layer per targeted module plus shared state. */
export interface Adapter {
  readonly spec: AdapterSpec;
  /** The adapted modules' paths, in model order. */
  readonly modulePaths: readonly string[];
  layerFor(modulePath: string): AdapterLayer | undefined;
  /** Its per-layer vectors worth showing beside ΔW's statistics; none for LoRA and DoRA. */
  layerVectors(rt: GpuRuntime): Promise<LayerVectors[]>;
  /** Trainable tensors in a fixed order (PEFT key order), with gradient buffers. */
  parameters(): readonly TrainableParam[];
  /** Every tensor of the PEFT file (trainable and frozen-shared), read back from the GPU. */
  exportTensors(rt: GpuRuntime): Promise<Map<string, { shape: number[]; data: Float32Array }>>;
  destroy(rt: GpuRuntime): void;
}
