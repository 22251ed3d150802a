import { type AdapterSpec, peftKey } from '../../formats/peft-fields';
import type { LinearModuleInfo } from '../../formats/hf-config';
import type { GpuRuntime } from '../../gpu/runtime';
import { kaimingUniform, moduleSeed, seededRandom } from '../init';
import { readParams, releaseParams, trainableParam } from '../params';
import type { Adapter, AdapterLayer, AdapterMethodDef, AdapterTensors, BaseModelView, LayerVectors, TrainableParam } from '../types';
import { LoraLayer } from './layer';
import { LORA_SUFFIX, loraFormat, lowRankScale } from './format';

/** A set of low-rank layers (LoRA, and DoRA which builds on it) keyed by module path. */
export class LayeredAdapter implements Adapter {
  /** The adapted modules' paths, in model order (the layers' order). */
  readonly modulePaths: readonly string[];
  private readonly byPath = new Map<string, AdapterLayer>();

  constructor(
    readonly spec: AdapterSpec,
    layers: readonly AdapterLayer[],
    private readonly params: readonly TrainableParam[],
  ) {
    for (const l of layers) this.byPath.set(l.base.modulePath, l);
    this.modulePaths = [...this.byPath.keys()];
  }

  layerFor(modulePath: string): AdapterLayer | undefined {
    return this.byPath.get(modulePath);
  }

  /** A and B are matrices and DoRA's magnitude is shown as ΔM: nothing more to draw. */
  async layerVectors(): Promise<LayerVectors[]> {
    return [];
  }

  parameters(): readonly TrainableParam[] {
    return this.params;
  }

  exportTensors(rt: GpuRuntime): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    return readParams(rt, this.params);
  }

  destroy(rt: GpuRuntime): void {
    for (const l of this.byPath.values()) l.destroy(rt);
    releaseParams(rt, this.params);
  }
}

/** PEFT's new-LoRA start: A Kaiming-uniform (a = √5), B zero, so the adapter starts as a no-op. */
export function initialLoraTensors(m: LinearModuleInfo, rank: number, random: () => number): { a: Float32Array; b: Float32Array } {
  return { a: kaimingUniform(rank, m.inFeatures, Math.sqrt(5), random), b: new Float32Array(m.outFeatures * rank) };
}

function loraLayer(
  rt: GpuRuntime,
  model: BaseModelView,
  spec: AdapterSpec,
  m: LinearModuleInfo,
  index: number,
  a: Float32Array,
  b: Float32Array,
): LoraLayer {
  const A = trainableParam(rt, peftKey(m.modulePath, LORA_SUFFIX.loraA), [spec.rank, m.inFeatures], a);
  const B = trainableParam(rt, peftKey(m.modulePath, LORA_SUFFIX.loraB), [m.outFeatures, spec.rank], b);
  return new LoraLayer(model.linear(m.modulePath), A, B, spec.rank, lowRankScale(spec), spec.dropout, moduleSeed(0x10a, index));
}

function build(spec: AdapterSpec, layers: LoraLayer[]): LayeredAdapter {
  return new LayeredAdapter(
    spec,
    layers,
    layers.flatMap((l) => [l.A, l.B]),
  );
}

export const lora: AdapterMethodDef = {
  method: 'lora',
  format: loraFormat,
  async create(rt, model, spec, modules, seed) {
    const random = seededRandom(seed);
    const layers = modules.map((m, i) => {
      const { a, b } = initialLoraTensors(m, spec.rank, random);
      return loraLayer(rt, model, spec, m, i, a, b);
    });
    return build(spec, layers);
  },
  load(rt, model, spec, modules, tensors: AdapterTensors) {
    const layers = modules.map((m, i) => {
      const a = tensors.get(peftKey(m.modulePath, LORA_SUFFIX.loraA))!.data;
      const b = tensors.get(peftKey(m.modulePath, LORA_SUFFIX.loraB))!.data;
      return loraLayer(rt, model, spec, m, i, a, b);
    });
    return build(spec, layers);
  },
};

export { loraLayer };
