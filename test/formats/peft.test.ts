import { describe, it, expect } from 'vitest';
import { parseModelConfig } from '../../src/formats/hf-config';
import {
  adapterConfigJson,
  adapterScale,
  checkAdapterTensors,
  expectedAdapterTensors,
  matchesTarget,
  parseAdapterConfig,
  peftKey,
  type AdapterSpec,
} from '../../src/formats/peft';
import { parseSafetensors } from '../../src/formats/safetensors';
import { LORA_SUFFIX as PEFT_SUFFIX } from '../../src/adapters/lora/format';
import { VERA_SHARED_KEYS } from '../../src/adapters/vera/format';
import { LORA_CONFIG, VERA_CONFIG } from './peft-configs';
import { ADAPTER_CASES, HAVE_FIXTURES, expectFormatError, fixtureBytes, fixtureText } from './fixtures';

const F = 'adapter_config.json';

const LORA = LORA_CONFIG;
const VERA = VERA_CONFIG;
const cfg = (base: object, patch: Record<string, unknown> = {}) => JSON.stringify({ ...base, ...patch });

describe('key names', () => {
  it('builds PEFT keys', () => {
    expect(peftKey('model.layers.0.self_attn.q_proj', PEFT_SUFFIX.loraA)).toBe(
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    );
    expect(peftKey('transformer.h.1.mlp.c_fc', PEFT_SUFFIX.magnitude)).toBe(
      'base_model.model.transformer.h.1.mlp.c_fc.lora_magnitude_vector',
    );
    expect(VERA_SHARED_KEYS).toEqual({ A: 'base_model.vera_A', B: 'base_model.vera_B' });
  });

  it('matches targets like PEFT does for a list', () => {
    expect(matchesTarget('model.layers.0.self_attn.q_proj', ['q_proj'])).toBe(true);
    expect(matchesTarget('model.layers.0.self_attn.q_proj', ['self_attn.q_proj'])).toBe(true);
    expect(matchesTarget('model.layers.0.self_attn.q_proj', ['model.layers.0.self_attn.q_proj'])).toBe(true);
    expect(matchesTarget('model.layers.0.self_attn.q_proj', ['proj'])).toBe(false); // not a component suffix
    expect(matchesTarget('model.layers.0.self_attn.q_proj', ['v_proj', 'k_proj'])).toBe(false);
    expect(matchesTarget('transformer.h.0.mlp.c_proj', ['c_proj'])).toBe(true);
    expect(matchesTarget('transformer.h.0.mlp.c_proj', ['attn.c_proj'])).toBe(false);
  });
});

describe('parseAdapterConfig', () => {
  it('parses LoRA, rsLoRA and DoRA', () => {
    expect(parseAdapterConfig(cfg(LORA), F)).toEqual({
      method: 'lora',
      rank: 4,
      alpha: 8,
      rslora: false,
      dropout: 0,
      targets: ['q_proj', 'v_proj'],
      fanInFanOut: false,
      options: {},
    });
    const rs = parseAdapterConfig(cfg(LORA, { use_rslora: true, lora_alpha: 16, lora_dropout: 0.05 }), F);
    expect([rs.rslora, rs.dropout, adapterScale(rs)]).toEqual([true, 0.05, 8]);
    expect(parseAdapterConfig(cfg(LORA, { use_dora: true }), F).method).toBe('dora');
    expect(adapterScale(parseAdapterConfig(cfg(LORA), F))).toBe(2);
  });

  it('parses VeRA', () => {
    const s = parseAdapterConfig(cfg(VERA, { d_initial: 0.5, projection_prng_key: 7 }), F);
    expect(s).toMatchObject({
      method: 'vera',
      rank: 8,
      alpha: 8,
      rslora: false,
      fanInFanOut: true,
      options: { dInitial: 0.5, projectionPrngKey: 7, saveProjection: true },
    });
    expect(adapterScale(s)).toBe(1);
  });

  const bad: Array<[string, string, string]> = [
    ['not JSON', '{', 'not valid JSON'],
    ['missing peft_type', cfg({ r: 4 }), 'missing "peft_type"'],
    ['IA3', cfg(LORA, { peft_type: 'IA3' }), 'peft_type the string "IA3" is not supported'],
    ['LOHA', cfg(LORA, { peft_type: 'LOHA' }), 'not supported'],
    ['ADALORA', cfg(LORA, { peft_type: 'ADALORA' }), 'not supported'],
    ['task type', cfg(LORA, { task_type: 'SEQ_CLS' }), 'task_type the string "SEQ_CLS" is not supported'],
    ['modules_to_save', cfg(LORA, { modules_to_save: ['lm_head'] }), '"modules_to_save" is set'],
    ['bias all', cfg(LORA, { bias: 'all' }), 'bias the string "all" is not supported'],
    ['bias lora_only (VeRA)', cfg(VERA, { bias: 'lora_only' }), 'not supported'],
    ['layer_replication', cfg(LORA, { layer_replication: [[0, 2]] }), '"layer_replication" is set'],
    ['rank_pattern', cfg(LORA, { rank_pattern: { q_proj: 8 } }), '"rank_pattern" is set'],
    ['alpha_pattern', cfg(LORA, { alpha_pattern: { q_proj: 8 } }), '"alpha_pattern" is set'],
    ['layers_to_transform', cfg(LORA, { layers_to_transform: [0] }), '"layers_to_transform" is set'],
    ['lora_bias', cfg(LORA, { lora_bias: true }), '"lora_bias": true'],
    ['PiSSA init', cfg(LORA, { init_lora_weights: 'pissa_niter_4' }), 'need the modified base model'],
    ['regex targets', cfg(LORA, { target_modules: '.*proj' }), 'only a list of module names'],
    ['all-linear', cfg(LORA, { target_modules: 'all-linear' }), 'regex/keyword'],
    ['no targets', cfg(LORA, { target_modules: null }), 'missing "target_modules"'],
    ['empty targets', cfg(LORA, { target_modules: [] }), 'non-empty list'],
    ['zero rank', cfg(LORA, { r: 0 }), '"r" must be a positive integer'],
    ['fractional rank', cfg(LORA, { r: 2.5 }), '"r" must be an integer'],
    ['negative alpha', cfg(LORA, { lora_alpha: -1 }), '"lora_alpha" must be positive'],
    ['dropout 1', cfg(LORA, { lora_dropout: 1 }), '"lora_dropout" must be in [0, 1)'],
    ['use_dora not bool', cfg(LORA, { use_dora: 'yes' }), '"use_dora" must be true or false'],
  ];
  for (const [name, json, fragment] of bad)
    it(`rejects: ${name}`, () => void expectFormatError(() => parseAdapterConfig(json, F), F, fragment));
});

describe('adapterConfigJson', () => {
  it('writes PEFT field sets that parse back to the same spec', () => {
    for (const base of [LORA, VERA]) {
      const spec = parseAdapterConfig(cfg(base, { target_modules: [...base.target_modules].reverse() }), F);
      const text = adapterConfigJson(spec, 'my/base-model');
      const obj = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(obj)).toEqual(Object.keys(base));
      expect(obj.base_model_name_or_path).toBe('my/base-model');
      expect(obj.target_modules).toEqual([...base.target_modules].sort());
      expect(parseAdapterConfig(text, F)).toEqual({ ...spec, targets: [...spec.targets].sort() });
    }
  });

  it('keeps Python float syntax for float fields', () => {
    const spec: AdapterSpec = { ...parseAdapterConfig(cfg(LORA), F), dropout: 0, alpha: 16 };
    const text = adapterConfigJson(spec, null);
    expect(text).toContain('"lora_dropout": 0.0,');
    expect(text).toContain('"lora_alpha": 16,');
    expect(adapterConfigJson({ ...spec, dropout: 0.05 }, null)).toContain('"lora_dropout": 0.05,');
  });
});

describe.skipIf(!HAVE_FIXTURES)('fixture adapters', () => {
  const expectedMethod: Record<string, string> = {
    'gemma3-lora': 'lora',
    'gpt2-dora': 'dora',
    'gpt2-lora': 'lora',
    'gpt2-vera': 'vera',
    'llama-dora': 'dora',
    'llama-lora-all-rslora': 'lora',
    'llama-lora-qv': 'lora',
    'llama-vera': 'vera',
    'llama3-rope-vera': 'vera',
    'qwen2-lora-bias': 'lora',
    'qwen3-dora': 'dora',
  };
  it('covers every adapter fixture', () => expect(ADAPTER_CASES).toEqual(Object.keys(expectedMethod)));

  for (const c of ADAPTER_CASES) {
    describe(c, () => {
      const configText = fixtureText(c, 'adapter', 'adapter_config.json');
      const spec = parseAdapterConfig(configText, `${c}/adapter_config.json`);
      const model = parseModelConfig(fixtureText(c, 'config.json'), `${c}/config.json`);
      const file = `${c}/adapter_model.safetensors`;
      const { tensors, metadata } = parseSafetensors(fixtureBytes(c, 'adapter', 'adapter_model.safetensors'), file);

      it('parses to the right method and flags', () => {
        expect(spec.method).toBe(expectedMethod[c]);
        expect(spec.rslora).toBe(c.includes('rslora'));
        expect(spec.fanInFanOut).toBe(c.startsWith('gpt2'));
        expect(metadata).toEqual({ format: 'pt' });
      });

      it('adapterConfigJson reproduces the fixture config byte for byte', () => {
        expect(adapterConfigJson(spec, null)).toBe(configText);
      });

      it('adapter tensors are exactly the expected keys and shapes', () => {
        const expected = checkAdapterTensors(spec, model, tensors, file);
        expect(expected.map((e) => e.key).sort()).toEqual([...tensors.keys()].sort());
        for (const e of expected) expect(tensors.get(e.key)!.shape).toEqual(e.shape);
      });

      it('trainable tensors are what summary.json and grads.safetensors list', () => {
        const trainable = expectedAdapterTensors(spec, model, file)
          .filter((e) => e.trainable)
          .map((e) => e.key)
          .sort();
        const summary = JSON.parse(fixtureText(c, 'expected', 'summary.json')) as { trainable: string[] };
        expect([...summary.trainable].sort()).toEqual(trainable);
        const grads = parseSafetensors(fixtureBytes(c, 'expected', 'grads.safetensors'), 'grads').tensors;
        expect([...grads.keys()].sort()).toEqual(trainable);
      });
    });
  }

  it('VeRA shared projections are sized by the largest targeted layer', () => {
    const model = parseModelConfig(fixtureText('gpt2-vera', 'config.json'), 'c');
    const spec = parseAdapterConfig(fixtureText('gpt2-vera', 'adapter', 'adapter_config.json'), 'a');
    const shared = expectedAdapterTensors(spec, model, 'a').filter((e) => !e.trainable);
    // c_attn 32→96, attn.c_proj 32→32, mlp.c_proj 128→32: A is [r, 128], B is [96, r].
    expect(shared.map((e) => [e.key, e.shape])).toEqual([
      ['base_model.vera_A', [8, 128]],
      ['base_model.vera_B', [96, 8]],
    ]);
  });

  it('reports missing, extra and mis-shaped adapter tensors', () => {
    const model = parseModelConfig(fixtureText('llama-lora-qv', 'config.json'), 'c');
    const spec = parseAdapterConfig(fixtureText('llama-lora-qv', 'adapter', 'adapter_config.json'), 'a');
    const { tensors } = parseSafetensors(fixtureBytes('llama-lora-qv', 'adapter', 'adapter_model.safetensors'), 'w');
    const key = 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight';

    const missing = new Map(tensors);
    missing.delete(key);
    expectFormatError(() => checkAdapterTensors(spec, model, missing, 'w'), 'w', `missing adapter tensor "${key}"`);

    const wrong = new Map(tensors);
    wrong.set(key, { ...tensors.get(key)!, shape: [32, 4] });
    expectFormatError(() => checkAdapterTensors(spec, model, wrong, 'w'), 'w', 'has shape [32, 4], expected [16, 4]');

    const extra = new Map(tensors);
    extra.set('base_model.model.lm_head.lora_A.weight', tensors.get(key)!);
    expectFormatError(() => checkAdapterTensors(spec, model, extra, 'w'), 'w', 'unexpected adapter tensor');

    const other = parseModelConfig(fixtureText('gpt2-lora', 'config.json'), 'c');
    expectFormatError(() => checkAdapterTensors(spec, other, tensors, 'w'), 'w', 'matches no adaptable layer of this gpt2 model');
    expectFormatError(
      () => expectedAdapterTensors({ ...spec, targets: ['q_proj', 'lm_head'] }, model, 'w'),
      'w',
      '"lm_head" matches no adaptable layer',
    );
  });

  it('explains VeRA adapters saved without projections', () => {
    const model = parseModelConfig(fixtureText('llama-vera', 'config.json'), 'c');
    const spec = parseAdapterConfig(cfg(VERA, { target_modules: ['q_proj'], r: 16, save_projection: false }), 'a');
    const tensors = new Map(
      expectedAdapterTensors(spec, model, 'w')
        .filter((e) => e.trainable)
        .map((e) => [e.key, { shape: e.shape }]),
    );
    expectFormatError(() => checkAdapterTensors(spec, model, tensors, 'w'), 'w', 'save_projection=false');
  });
});
