import { adapterScale, PEFT_SUFFIX, peftKey, type AdapterSpec } from '../../formats/peft';
import type { LinearModuleInfo } from '../../formats/hf-config';
import type { GpuRuntime } from '../../gpu/runtime';
import { doraNorm } from '../../kernels/adapter-ops';
import { moduleSeed, seededRandom } from '../init';
import { initialLoraTensors, LayeredAdapter } from '../lora';
import { trainableParam } from '../params';
import type { AdapterMethodDef, BaseModelView } from '../types';
import { DoraLayer } from './layer';

function doraLayer(
  rt: GpuRuntime, model: BaseModelView, spec: AdapterSpec, m: LinearModuleInfo, index: number,
  a: Float32Array, b: Float32Array, magnitude: Float32Array,
): DoraLayer {
  const A = trainableParam(rt, peftKey(m.modulePath, PEFT_SUFFIX.loraA), [spec.rank, m.inFeatures], a);
  const B = trainableParam(rt, peftKey(m.modulePath, PEFT_SUFFIX.loraB), [m.outFeatures, spec.rank], b);
  const M = trainableParam(rt, peftKey(m.modulePath, PEFT_SUFFIX.magnitude), [m.outFeatures], magnitude);
  return new DoraLayer(model.linear(m.modulePath), A, B, M, spec.rank, adapterScale(spec), spec.dropout, moduleSeed(0xd0a, index));
}

/** Row norms ‖wᵢ‖ of a frozen weight (over the input dimension), computed on the GPU. */
async function weightRowNorms(rt: GpuRuntime, model: BaseModelView, m: LinearModuleInfo, rank: number): Promise<Float32Array> {
  const base = model.linear(m.modulePath);
  const zeroA = rt.zeros([rank, m.inFeatures], 'zeroA');
  const zeroB = rt.zeros([m.outFeatures, rank], 'zeroB');
  const ones = rt.tensor([m.outFeatures], 'ones', new Float32Array(m.outFeatures).fill(1));
  const invNorm = rt.tensor([m.outFeatures], 'invNorm');
  const scale = rt.tensor([m.outFeatures], 'scale');
  doraNorm(rt, {
    weight: base.weight, loraA: zeroA, loraB: zeroB, magnitude: ones, invNorm, scale,
    outFeatures: m.outFeatures, inFeatures: m.inFeatures, rank, s: 0, fanInFanOut: base.fanInFanOut,
  });
  const inv = await rt.read(invNorm);
  rt.release(zeroA, zeroB, ones, invNorm, scale);
  return inv.map((v) => 1 / v);
}

export const dora: AdapterMethodDef = {
  method: 'dora',
  /** As PEFT: LoRA's start (B = 0) and magnitude m = ‖W‖ per row, so the layer starts unchanged. */
  async create(rt, model, spec, modules, seed) {
    const random = seededRandom(seed);
    const layers: DoraLayer[] = [];
    for (const [i, m] of modules.entries()) {
      const { a, b } = initialLoraTensors(m, spec.rank, random);
      layers.push(doraLayer(rt, model, spec, m, i, a, b, await weightRowNorms(rt, model, m, spec.rank)));
    }
    return new LayeredAdapter(spec, layers, layers.flatMap((l) => [l.A, l.B, l.magnitude]));
  },
  load(rt, model, spec, modules, tensors) {
    const get = (m: LinearModuleInfo, suffix: string) => tensors.get(peftKey(m.modulePath, suffix))!.data;
    const layers = modules.map((m, i) =>
      doraLayer(rt, model, spec, m, i, get(m, PEFT_SUFFIX.loraA), get(m, PEFT_SUFFIX.loraB), get(m, PEFT_SUFFIX.magnitude)),
    );
    return new LayeredAdapter(spec, layers, layers.flatMap((l) => [l.A, l.B, l.magnitude]));
  },
};
