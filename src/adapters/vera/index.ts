import { peftKey, type AdapterSpec } from '../../formats/peft-fields';
import type { LinearModuleInfo } from '../../formats/hf-config';
import type { GpuRuntime } from '../../gpu/runtime';
import type { Tensor } from '../../gpu/tensor';
import { kaimingUniform, moduleSeed, seededRandom } from '../init';
import { readParams, releaseParams, trainableParam } from '../params';
import type { Adapter, AdapterLayer, AdapterMethodDef, BaseModelView, LayerVectors, TrainableParam } from '../types';
import { VeraLayer, type VeraShared } from './layer';
import { VERA_SHARED_KEYS, VERA_SUFFIX, veraFormat, veraOptions } from './format';

class VeraAdapter implements Adapter {
  /** The adapted modules' paths, in model order (the layers' order). */
  readonly modulePaths: readonly string[];
  private readonly byPath = new Map<string, VeraLayer>();
  private readonly params: TrainableParam[];

  constructor(
    readonly spec: AdapterSpec,
    private readonly shared: VeraShared & { readonly maxOut: number },
    layers: readonly VeraLayer[],
  ) {
    for (const l of layers) this.byPath.set(l.base.modulePath, l);
    this.modulePaths = [...this.byPath.keys()];
    this.params = layers.flatMap((l) => [l.lambdaB, l.lambdaD]);
  }

  layerFor(modulePath: string): AdapterLayer | undefined {
    return this.byPath.get(modulePath);
  }

  /** λ_b (per output feature) and λ_d (per rank) of every layer: all that VeRA trains. */
  async layerVectors(rt: GpuRuntime): Promise<LayerVectors[]> {
    const layers = [...this.byPath.values()];
    const rows = async (pick: (l: VeraLayer) => TrainableParam) =>
      Promise.all(layers.map(async (l) => ({ modulePath: l.base.modulePath, values: await rt.read(pick(l).value) })));
    return [
      { title: 'VeRA λ_b (per output feature)', id: 'vera-lambda-b', rows: await rows((l) => l.lambdaB) },
      { title: 'VeRA λ_d (per rank)', id: 'vera-lambda-d', rows: await rows((l) => l.lambdaD) },
    ];
  }

  parameters(): readonly TrainableParam[] {
    return this.params;
  }

  async exportTensors(rt: GpuRuntime): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = await readParams(rt, this.params);
    if (veraOptions(this.spec).saveProjection) {
      const { rank: r, maxIn, maxOut } = this.shared;
      out.set(VERA_SHARED_KEYS.A, { shape: [r, maxIn], data: await rt.read(this.shared.A) });
      out.set(VERA_SHARED_KEYS.B, { shape: [maxOut, r], data: await rt.read(this.shared.B) });
    }
    return out;
  }

  destroy(rt: GpuRuntime): void {
    for (const l of this.byPath.values()) l.destroy(rt);
    releaseParams(rt, this.params);
    rt.release(this.shared.A, this.shared.B);
  }
}

function sharedSize(modules: LinearModuleInfo[]): { maxIn: number; maxOut: number } {
  return { maxIn: Math.max(...modules.map((m) => m.inFeatures)), maxOut: Math.max(...modules.map((m) => m.outFeatures)) };
}

function build(
  rt: GpuRuntime,
  model: BaseModelView,
  spec: AdapterSpec,
  modules: LinearModuleInfo[],
  a: Float32Array,
  b: Float32Array,
  lambdas: (m: LinearModuleInfo) => { lb: Float32Array; ld: Float32Array },
): VeraAdapter {
  const { maxIn, maxOut } = sharedSize(modules);
  const r = spec.rank;
  const shared = {
    A: rt.tensor([r, maxIn], VERA_SHARED_KEYS.A, a) as Tensor,
    B: rt.tensor([maxOut, r], VERA_SHARED_KEYS.B, b) as Tensor,
    rank: r,
    maxIn,
    maxOut,
  };
  const layers = modules.map((m, i) => {
    const { lb, ld } = lambdas(m);
    const lambdaB = trainableParam(rt, peftKey(m.modulePath, VERA_SUFFIX.lambdaB), [m.outFeatures], lb);
    const lambdaD = trainableParam(rt, peftKey(m.modulePath, VERA_SUFFIX.lambdaD), [r], ld);
    return new VeraLayer(model.linear(m.modulePath), shared, lambdaB, lambdaD, spec.dropout, moduleSeed(0x7e4a, i));
  });
  return new VeraAdapter(spec, shared, layers);
}

export const vera: AdapterMethodDef = {
  method: 'vera',
  format: veraFormat,
  /**
   * As PEFT: shared A [r, maxIn] and B [maxOut, r] Kaiming-uniform (gain √2, bound √(6/fan_in))
   * from a generator seeded with projection_prng_key, λ_b = 0 and λ_d = d_initial.
   */
  async create(rt, model, spec, modules, seed) {
    const { maxIn, maxOut } = sharedSize(modules);
    const { projectionPrngKey, dInitial } = veraOptions(spec);
    const random = seededRandom(projectionPrngKey ^ seed);
    const a = kaimingUniform(spec.rank, maxIn, 0, random);
    const b = kaimingUniform(maxOut, spec.rank, 0, random);
    return build(rt, model, spec, modules, a, b, (m) => ({
      lb: new Float32Array(m.outFeatures),
      ld: new Float32Array(spec.rank).fill(dInitial),
    }));
  },
  load(rt, model, spec, modules, tensors) {
    const get = (key: string) => tensors.get(key)!.data;
    return build(rt, model, spec, modules, get(VERA_SHARED_KEYS.A), get(VERA_SHARED_KEYS.B), (m) => ({
      lb: get(peftKey(m.modulePath, VERA_SUFFIX.lambdaB)),
      ld: get(peftKey(m.modulePath, VERA_SUFFIX.lambdaD)),
    }));
  },
};
