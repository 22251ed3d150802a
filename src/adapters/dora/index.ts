import { type AdapterSpec, peftKey } from '../../formats/peft-fields';
import type { LinearModuleInfo } from '../../formats/hf-config';
import type { GpuRuntime } from '../../gpu/runtime';
import type { Tensor } from '../../gpu/tensor';
import { rowSumSquares } from '../../kernels/adapter-ops';
import { moduleSeed, seededRandom } from '../init';
import { initialLoraTensors, LayeredAdapter } from '../lora';
import { trainableParam } from '../params';
import type { AdapterMethodDef, BaseModelView } from '../types';
import { DoraLayer } from './layer';
import { doraFormat } from './format';
import { LORA_SUFFIX, lowRankScale } from '../lora/format';

function doraLayer(
  rt: GpuRuntime,
  model: BaseModelView,
  spec: AdapterSpec,
  m: LinearModuleInfo,
  index: number,
  a: Float32Array,
  b: Float32Array,
  magnitude: Float32Array,
): DoraLayer {
  const A = trainableParam(rt, peftKey(m.modulePath, LORA_SUFFIX.loraA), [spec.rank, m.inFeatures], a);
  const B = trainableParam(rt, peftKey(m.modulePath, LORA_SUFFIX.loraB), [m.outFeatures, spec.rank], b);
  const M = trainableParam(rt, peftKey(m.modulePath, LORA_SUFFIX.magnitude), [m.outFeatures], magnitude);
  const base = model.linear(m.modulePath);
  return new DoraLayer(base, A, B, M, weightRowSquares(rt, base), spec.rank, lowRankScale(spec), spec.dropout, moduleSeed(0xd0a, index));
}

/** ‖wᵢ‖² of a frozen weight per output row, on the GPU; DoRA keeps it for its per-step norm. */
function weightRowSquares(rt: GpuRuntime, base: ReturnType<BaseModelView['linear']>): Tensor {
  const squares = rt.tensor([base.outFeatures], 'dora.weightRowSquares');
  rowSumSquares(rt, base.weight, squares, base.outFeatures, base.inFeatures, base.fanInFanOut);
  return squares;
}

export const dora: AdapterMethodDef = {
  method: 'dora',
  format: doraFormat,
  /** As PEFT: LoRA's start (B = 0) and magnitude m = ‖W‖ per row, so the layer starts unchanged. */
  async create(rt, model, spec, modules, seed) {
    const random = seededRandom(seed);
    const layers: DoraLayer[] = [];
    for (const [i, m] of modules.entries()) {
      const { a, b } = initialLoraTensors(m, spec.rank, random);
      const layer = doraLayer(rt, model, spec, m, i, a, b, new Float32Array(m.outFeatures));
      rt.upload(layer.magnitude.value, (await rt.read(layer.weightRowSquares)).map(Math.sqrt));
      layers.push(layer);
    }
    return new LayeredAdapter(
      spec,
      layers,
      layers.flatMap((l) => [l.A, l.B, l.magnitude]),
    );
  },
  load(rt, model, spec, modules, tensors) {
    const get = (m: LinearModuleInfo, suffix: string) => tensors.get(peftKey(m.modulePath, suffix))!.data;
    const layers = modules.map((m, i) =>
      doraLayer(rt, model, spec, m, i, get(m, LORA_SUFFIX.loraA), get(m, LORA_SUFFIX.loraB), get(m, LORA_SUFFIX.magnitude)),
    );
    return new LayeredAdapter(
      spec,
      layers,
      layers.flatMap((l) => [l.A, l.B, l.magnitude]),
    );
  },
};
