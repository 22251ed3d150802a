/**
 * The method registry is the one seam between a method and the rest of the tree: these tests fail
 * when code outside a method's folder starts to know about it, or when a method's declared facts
 * (trainable count, config round trip) disagree with its tensors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADAPTER_METHODS, METHOD_NAMES } from '../../src/adapters';
import { parseModelConfig } from '../../src/formats/hf-config';
import { adapterConfigJson, expectedAdapterTensors, parseAdapterConfig } from '../../src/formats/peft';
import { adapterSpecFor, linearModuleNames } from '../../src/train/adapter-spec';

const SRC = join(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(e.name) ? [path] : [];
  });
}

// Built on LoRA by design: DoRA is LoRA plus a magnitude vector, ReLoRA's LoRA phase is LoRA.
const BUILT_ON: Record<string, readonly string[]> = {
  lora: ['adapters/dora/format.ts', 'adapters/dora/index.ts', 'adapters/dora/layer.ts', 'train/relora/index.ts'],
};

describe('the adapter-method registry', () => {
  const files = sourceFiles(SRC).map((path) => ({ rel: relative(SRC, path), text: readFileSync(path, 'utf8') }));

  it.each(METHOD_NAMES)('nothing outside src/adapters/%s/ and the registry imports it or names it', (method) => {
    const own = `adapters/${method}/`;
    const outside = files.filter((f) => !f.rel.startsWith(own) && f.rel !== 'adapters/index.ts');
    const imports = outside.filter((f) => new RegExp(`from '[./]*(?:/?adapters)?/${method}(?:/[^']*)?'`).test(f.text));
    expect(imports.map((f) => f.rel).filter((rel) => !BUILT_ON[method]?.includes(rel))).toEqual([]);
    if (method === 'lora') return; // the studio's default method and ReLoRA's inner method are written 'lora'
    const names = outside.filter((f) => new RegExp(`['"\`]${method}['"\`]`).test(f.text));
    expect(names.map((f) => f.rel)).toEqual([]);
  });

  const config = parseModelConfig(
    JSON.stringify({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: 50,
      hidden_size: 24,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: true,
    }),
    'config.json',
  );

  it.each(METHOD_NAMES)('%s: the trainable count is the size of its trainable tensors', (method) => {
    const format = ADAPTER_METHODS[method].format;
    const spec = adapterSpecFor({ method, rank: 3, alpha: 5, rslora: false, dropout: 0, targets: linearModuleNames(config) }, config);
    const tensors = expectedAdapterTensors(spec, config, 'test');
    const trainable = tensors.filter((t) => t.trainable).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(format.trainableCount(spec, tensors.flatMap((t) => (t.module ? [t.module] : [])).filter(unique))).toBe(trainable);
    expect(new Set(tensors.map((t) => t.key)).size).toBe(tensors.length);
  });

  it.each(METHOD_NAMES)('%s: adapter_config.json written and read back gives the same spec', (method) => {
    const spec = adapterSpecFor({ method, rank: 4, alpha: 6, rslora: true, dropout: 0.1, targets: ['v_proj', 'q_proj'] }, config);
    const back = parseAdapterConfig(adapterConfigJson(spec, null), 'adapter_config.json');
    expect(back.method).toBe(method);
    expect({ ...back, options: {}, targets: [...back.targets].sort() }).toEqual({
      ...spec,
      options: {},
      targets: [...spec.targets].sort(),
    });
    // What the file says of the method's own options is what it means: written again, the same file.
    expect(adapterConfigJson(back, null)).toBe(adapterConfigJson(spec, null));
  });
});

function unique<T>(x: T, i: number, all: readonly T[]): boolean {
  return all.indexOf(x) === i;
}
