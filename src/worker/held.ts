/** What the last training run or adapter import left on the GPU, and the one place that frees it. */
import type { Adapter } from '../adapters/types';
import type { GpuRuntime } from '../gpu/runtime';
import type { Transformer } from '../model/transformer';
import type { HeldResult } from './protocol';

/** A finished ReLoRA run: its own Transformer (the loaded weights + every merged update) and those weights on the CPU. */
export interface ReloraResult {
  readonly transformer: Transformer;
  readonly weights: Map<string, { shape: number[]; data: Float32Array }>;
}

/** At most one of: a PEFT adapter (trained or imported) on the loaded model, or a ReLoRA-trained model. */
export class HeldState {
  private heldAdapter: Adapter | null = null;
  private heldRelora: ReloraResult | null = null;

  get adapter(): Adapter | null {
    return this.heldAdapter;
  }

  get relora(): ReloraResult | null {
    return this.heldRelora;
  }

  /** Frees whatever is held (a new model, a new run, an import, or a failed run that had dropped it). */
  drop(rt: GpuRuntime): void {
    this.heldAdapter?.destroy(rt);
    this.heldAdapter = null;
    this.heldRelora?.transformer.destroy();
    this.heldRelora = null;
  }

  /** Holds `adapter`, freeing what was held before (unless it is that adapter). */
  holdAdapter(rt: GpuRuntime, adapter: Adapter): void {
    if (this.heldAdapter !== adapter) this.drop(rt);
    this.heldAdapter = adapter;
  }

  holdRelora(rt: GpuRuntime, result: ReloraResult): void {
    this.drop(rt);
    this.heldRelora = result;
  }

  /** What the page is told the worker holds. */
  describe(): HeldResult | null {
    if (this.heldRelora) return { kind: 'relora', method: 'relora' };
    return this.heldAdapter ? { kind: 'adapter', method: this.heldAdapter.spec.method } : null;
  }
}
