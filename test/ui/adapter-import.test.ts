import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { findAdapterFiles, looksLikeSafetensors } from '../../src/formats/adapter-files';
import { float32ConfigJson } from '../../src/formats/merged-folder';
import { writeSafetensors } from '../../src/formats/safetensors';
import { dataSeqLen } from '../../src/ui/store/dataset-slice';
import type { DatasetSummary } from '../../src/worker/protocol';

const enc = new TextEncoder();
const config = enc.encode(JSON.stringify({ peft_type: 'LORA', r: 4, target_modules: ['q_proj'] }));
const weights = writeSafetensors([{ name: 'a', shape: [2], data: new Float32Array([1, 2]) }], { format: 'pt' });

describe('adapter files told apart by content', () => {
  it('accepts any names: a repeated download is "adapter_config (1).json"', () => {
    const found = findAdapterFiles([
      { name: 'adapter_model (1).safetensors', bytes: weights },
      { name: 'adapter_config (1).json', bytes: config },
    ]);
    expect(typeof found).toBe('object');
    if (typeof found === 'string') return;
    expect(JSON.parse(found.configText).peft_type).toBe('LORA');
    expect(found.weights).toEqual(weights);
    expect(found.weightsName).toBe('adapter_model (1).safetensors');
  });
  it("opens the studio's own adapter.zip", () => {
    const zip = zipSync({ 'adapter_model.safetensors': weights, 'adapter_config.json': config });
    const found = findAdapterFiles([{ name: 'adapter.zip', bytes: zip }]);
    if (typeof found === 'string') throw new Error(found);
    expect(found.weightsName).toBe('adapter.zip/adapter_model.safetensors');
    expect(found.configName).toBe('adapter.zip/adapter_config.json');
  });
  it('ignores other JSON, and says what is missing or ambiguous', () => {
    const other = enc.encode('{"architectures": ["LlamaForCausalLM"]}');
    expect(
      findAdapterFiles([
        { name: 'config.json', bytes: other },
        { name: 'x.json', bytes: config },
      ]),
    ).toMatch(/^no adapter weights/);
    expect(findAdapterFiles([{ name: 'w.bin', bytes: weights }])).toMatch(/^no adapter config/);
    expect(
      findAdapterFiles([
        { name: 'a.json', bytes: config },
        { name: 'b.json', bytes: config },
        { name: 'w', bytes: weights },
      ]),
    ).toMatch(/more than one adapter config/);
    expect(findAdapterFiles([{ name: 'p.png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 6]) }])).toMatch(/^neither/);
    expect(looksLikeSafetensors(config)).toBe(false);
    expect(looksLikeSafetensors(weights)).toBe(true);
  });
});

describe('merged export', () => {
  it('config.json says float32 for the F32 weights it goes with', () => {
    const out = JSON.parse(float32ConfigJson(JSON.stringify({ model_type: 'llama', torch_dtype: 'bfloat16', dtype: 'bfloat16' })));
    expect(out).toEqual({ model_type: 'llama', torch_dtype: 'float32', dtype: 'float32' });
    expect(JSON.parse(float32ConfigJson('{"model_type": "gpt2"}'))).toEqual({ model_type: 'gpt2', torch_dtype: 'float32' });
  });
});

describe('the sequence length from the data', () => {
  const summary = (suggested: number | null) =>
    ({ lengths: suggested === null ? null : { suggestedSeqLen: suggested } }) as unknown as DatasetSummary;
  it('is the suggested length for pair and chat rows, nothing for plain text or when already set', () => {
    expect(dataSeqLen(summary(48), 32)).toBe(48);
    expect(dataSeqLen(summary(32), 32)).toBeNull();
    expect(dataSeqLen(summary(null), 32)).toBeNull();
  });
});
