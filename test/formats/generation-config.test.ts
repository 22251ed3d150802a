import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blobSource, loadModelFolder } from '../../src/formats/model-folder';
import { readModelFolder } from '../../src/formats/node-fs';
import { parseGenerationConfig } from '../../src/formats/generation-config';
import { expectedWeights, parseModelConfig } from '../../src/formats/hf-config';
import { writeSafetensors } from '../../src/formats/safetensors';
import { GEMMA3_CONFIG, QWEN25_CONFIG, SPECIAL, chatTokenizerJson } from '../tokenizer/chat-tokenizers';
import { expectFormatError } from './fixtures';

const F = 'generation_config.json';
const parse = (o: unknown, vocabSize = 1000) => parseGenerationConfig(JSON.stringify(o), F, vocabSize);

describe('parseGenerationConfig', () => {
  it('reads eos_token_id as a list or as one id', () => {
    expect(parse({ eos_token_id: [1, 106] }).eosTokenIds).toEqual([1, 106]);
    expect(parse({ eos_token_id: 151643 }, 151936).eosTokenIds).toEqual([151643]);
    expect(parse({}).eosTokenIds).toEqual([]);
    expect(parse({ eos_token_id: null }).eosTokenIds).toEqual([]);
  });

  it('do_sample true: the file’s temperature / top_k, else transformers’ defaults (1 and 50)', () => {
    // Qwen2.5-Instruct's file (top_p and repetition_penalty are beyond this sampler)
    const qwen = {
      bos_token_id: 151643,
      do_sample: true,
      eos_token_id: [151645, 151643],
      pad_token_id: 151643,
      repetition_penalty: 1.05,
      temperature: 0.7,
      top_p: 0.8,
      top_k: 20,
    };
    expect(parse(qwen, 151936)).toEqual({ eosTokenIds: [151645, 151643], defaults: { temperature: 0.7, topK: 20 } });
    // Gemma 3's file has no temperature
    expect(parse({ do_sample: true, eos_token_id: [1, 106], top_k: 64, top_p: 0.95 }).defaults).toEqual({ temperature: 1, topK: 64 });
    expect(parse({ do_sample: true, temperature: 0.6, top_p: 0.9 }).defaults).toEqual({ temperature: 0.6, topK: 50 });
  });

  it('without do_sample: true decoding is greedy, whatever temperature says', () => {
    expect(parse({ do_sample: false, temperature: 0.7, top_k: 20, max_new_tokens: 2048 }).defaults).toEqual({
      temperature: 0,
      maxNewTokens: 2048,
    });
    expect(parse({ temperature: 0.7 }).defaults).toEqual({ temperature: 0 });
    expect(parse({ do_sample: true, temperature: null, top_k: null, max_new_tokens: null }).defaults).toEqual({ temperature: 1, topK: 50 });
  });

  it('refuses bad values, naming the file and the field', () => {
    const cases: [unknown, string][] = [
      [{ eos_token_id: '</s>' }, 'eos_token_id must be a token id or a list of token ids, got the string "</s>"'],
      [{ eos_token_id: [1, 2.5] }, 'eos_token_id must be a token id or a list of token ids, got 2.5'],
      [{ eos_token_id: [1, -1] }, 'eos_token_id must be a token id or a list of token ids, got -1'],
      [{ eos_token_id: { id: 1 } }, 'eos_token_id must be a token id or a list of token ids, got a object'],
      [{ eos_token_id: [5, 1000] }, "eos_token_id 1000 is beyond the vocabulary (config.json's vocab_size is 1000)"],
      [{ do_sample: 'yes' }, 'do_sample must be true or false, got the string "yes"'],
      [{ temperature: -0.5 }, 'temperature must be a number ≥ 0, got -0.5'],
      [{ top_k: 1.5 }, 'top_k must be an integer ≥ 0, got 1.5'],
      [{ max_new_tokens: 0 }, 'max_new_tokens must be a positive integer, got 0'],
      [[1], 'generation config must be a JSON object, got an array'],
    ];
    for (const [o, problem] of cases) expect(expectFormatError(() => parse(o), F, problem).problem).toBe(problem);
    expectFormatError(() => parseGenerationConfig('{"eos_token_id": ', F, 10), F, /generation config is not valid JSON/);
  });
});

// ---- the model folder: stop ids from generation_config.json, the tokenizer's eos and end-of-turn ----

const VOCAB = 300; // config.json's vocab_size may exceed the tokenizer's 267 tokens (Qwen's does)

function modelFiles(tokenizerConfig: string, generationConfig?: object): Map<string, string | Uint8Array> {
  const configJson = JSON.stringify({
    model_type: 'llama',
    hidden_size: 8,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    intermediate_size: 16,
    num_hidden_layers: 1,
    vocab_size: VOCAB,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    max_position_embeddings: 32,
    tie_word_embeddings: true,
    hidden_act: 'silu',
  });
  const specs = expectedWeights(parseModelConfig(configJson, 'config.json')).filter((s) => !s.optional);
  const weights = writeSafetensors(
    specs.map((s) => ({ name: s.key, shape: s.shape, data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)) })),
  );
  const files = new Map<string, string | Uint8Array>([
    ['config.json', configJson],
    ['model.safetensors', weights],
    ['tokenizer.json', chatTokenizerJson()],
    ['tokenizer_config.json', tokenizerConfig],
  ]);
  if (generationConfig) files.set(F, JSON.stringify(generationConfig));
  return files;
}

const asBlobs = (files: Map<string, string | Uint8Array>) =>
  blobSource(new Map([...files].map(([name, v]) => [name, new Blob([v as BlobPart])])));
const readStudioModel = (dir: string) => readModelFolder(dir, { tokenizer: true });

describe('model folder stop tokens and generation defaults', () => {
  it('Gemma 3: generation_config [<eos>, <end_of_turn>] with the tokenizer’s own, deduplicated', async () => {
    const folder = await loadModelFolder(
      asBlobs(modelFiles(GEMMA3_CONFIG, { do_sample: true, eos_token_id: [SPECIAL['<eos>'], SPECIAL['<end_of_turn>']], top_k: 64 })),
      { tokenizer: true },
    );
    expect(folder.stopTokenIds).toEqual([261, 259]);
    expect(folder.generationDefaults).toEqual({ temperature: 1, topK: 64 });
  });

  it('Qwen2.5: an int eos_token_id (<|endoftext|>) joined by <|im_end|>, the tokenizer’s eos and end of turn', async () => {
    const folder = await loadModelFolder(
      asBlobs(modelFiles(QWEN25_CONFIG, { eos_token_id: SPECIAL['<|endoftext|>'], max_new_tokens: 64 })),
      { tokenizer: true },
    );
    expect(folder.stopTokenIds).toEqual([262, 257]);
    expect(folder.generationDefaults).toEqual({ temperature: 0, maxNewTokens: 64 });
  });

  it('without generation_config.json: the tokenizer’s eos and the end-of-turn token, no defaults', async () => {
    const folder = await loadModelFolder(asBlobs(modelFiles(GEMMA3_CONFIG)), { tokenizer: true });
    expect(folder.stopTokenIds).toEqual([261, 259]);
    expect(folder.generationDefaults).toEqual({});
  });

  it('an eos id beyond config.json’s vocab_size is a FormatError naming generation_config.json', async () => {
    await expect(loadModelFolder(asBlobs(modelFiles(QWEN25_CONFIG, { eos_token_id: [257, VOCAB] })), { tokenizer: true })).rejects.toThrow(
      `generation_config.json: eos_token_id ${VOCAB} is beyond the vocabulary (config.json's vocab_size is ${VOCAB})`,
    );
  });

  describe('the CLI loader reads generation_config.json from the folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'generation-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (files: Map<string, string | Uint8Array>) => {
      for (const [name, v] of files) writeFileSync(join(dir, name), v);
    };

    it('stop ids and defaults, and errors that name the file inside the folder', async () => {
      write(modelFiles(QWEN25_CONFIG, { do_sample: true, eos_token_id: [257, 262], temperature: 0.7, top_k: 20 }));
      const folder = await readStudioModel(dir);
      expect([folder.stopTokenIds, folder.generationDefaults]).toEqual([[257, 262], { temperature: 0.7, topK: 20 }]);
      writeFileSync(join(dir, F), '{"temperature": "hot"}');
      await expect(readStudioModel(dir)).rejects.toThrow(`${join(dir, F)}: temperature must be a number ≥ 0, got the string "hot"`);
    });
  });
});
