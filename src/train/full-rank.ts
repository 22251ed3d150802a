import { expectedWeights } from '../formats/hf-config';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import type { Transformer } from '../model/transformer';
import type { TrainingTarget } from './target';
import type { TrainableParam } from '../model/adapter';

/**
 * Full-rank training: every base weight trains (embeddings and norms included). With tied
 * embeddings the table is one tensor, so its gradient sums its use as input and as LM head.
 */
export class FullRankTarget implements TrainingTarget {
  readonly adapter = null;
  readonly params: TrainableParam[];
  readonly baseGrads: Map<Tensor, Tensor>;

  constructor(
    private readonly rt: GpuRuntime,
    model: Transformer,
    /** Which weights train (all by default; ReLoRA's LoRA phase keeps embeddings and norms). */
    include: (key: string) => boolean = () => true,
  ) {
    const keys = expectedWeights(model.config)
      .filter((w) => !w.optional || !model.config.tieWordEmbeddings)
      .map((w) => w.key)
      .filter(include);
    this.params = keys.map((key) => {
      const value = model.weight(key);
      return { key, value, grad: rt.zeros(value.shape, `${key}.grad`) };
    });
    this.baseGrads = new Map(this.params.map((p) => [p.value, p.grad]));
  }

  /** The trained model's weights under their HF keys, for `model.safetensors`. */
  async exportWeights(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const p of this.params) out.set(p.key, { shape: [...p.value.shape], data: await this.rt.read(p.value) });
    return out;
  }

  /** Frees the gradient buffers; the weights belong to the model. */
  destroy(): void {
    for (const p of this.params) this.rt.release(p.grad);
  }

  get parameterCount(): number {
    return this.params.reduce((n, p) => n + p.value.numel, 0);
  }
}
