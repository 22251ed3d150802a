import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main, type FinetuneReport } from '../../scripts/measure-finetune';
import { seededRandom } from '../../src/adapters/init';
import { expectedWeights, parseModelConfig } from '../../src/formats/hf-config';
import { writeSafetensors } from '../../src/formats/safetensors';
import { bpeTokenizerJson, END_OF_TEXT, trainBpe } from '../../src/tokenizer/bpe-trainer';

const SAMPLES = join(import.meta.dirname, '..', '..', 'public', 'samples');
const VOCAB = 320;
const tmp = () => mkdtempSync(join(tmpdir(), 'measure-finetune-'));

/** A random-initialised one-layer Llama whose BPE tokenizer was trained on the sample datasets. */
function writeTinyModel(dir: string): void {
  const corpus = ['ships-log.txt', 'pirate-instructions.jsonl'].map((f) => readFileSync(join(SAMPLES, f), 'utf8')).join('\n');
  const config = {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    intermediate_size: 32,
    vocab_size: VOCAB,
    max_position_embeddings: 48,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    hidden_act: 'silu',
    bos_token_id: VOCAB - 1,
    eos_token_id: VOCAB - 1,
  };
  const random = seededRandom(5);
  const weights = expectedWeights(parseModelConfig(JSON.stringify(config), 'config.json'))
    .filter((w) => !w.optional)
    .map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const data = w.shape.length === 1 ? new Float32Array(n).fill(1) : Float32Array.from({ length: n }, () => (random() - 0.5) * 0.2);
      return { name: w.key, shape: w.shape, data };
    });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bpeTokenizerJson(trainBpe(corpus, VOCAB))));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: END_OF_TEXT, bos_token: END_OF_TEXT }));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(weights, { format: 'pt' }));
}

/** Runs the script's main in this process with its stdout and stderr captured. */
async function measure(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

describe('measure-finetune', () => {
  let model: string;
  beforeAll(() => {
    model = tmp();
    writeTinyModel(model);
  });
  afterEach(() => vi.restoreAllMocks());

  it('trains on the chosen samples with the studio pipeline and writes finite losses and generations', async () => {
    const out = join(tmp(), 'results', 'finetune.json');
    const only = ['--only', 'ships-log.txt,pirate-instructions.jsonl'];
    const r = await measure(['--model', model, '--steps', '2', '--new-tokens', '2', ...only, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| ships-log\.txt \| txt/);
    const report = JSON.parse(readFileSync(out, 'utf8')) as FinetuneReport;
    expect(report.steps).toBe(2);
    expect(report.datasets.map((d) => d.file)).toEqual(['ships-log.txt', 'pirate-instructions.jsonl']);
    for (const d of report.datasets) {
      expect(d.settings).toMatchObject({ method: 'lora', rank: 8, steps: 2, seed: 42, targets: ['q_proj', 'v_proj'] });
      expect(d.trainSequences).toBeGreaterThan(0);
      expect(d.valSequences).toBeGreaterThan(0);
      for (const loss of [d.valLossBefore, d.valLossAfter, d.relativeDrop, ...d.trainLosses]) expect(Number.isFinite(loss)).toBe(true);
      expect(d.trainLosses).toHaveLength(2);
      expect(d.valLossCurve.at(-1)).toEqual({ step: 2, loss: d.valLossAfter });
      expect(d.generations).toHaveLength(3);
      for (const g of d.generations) expect(typeof g.before === 'string' && typeof g.after === 'string').toBe(true);
    }
    // The pirate sample's 128 tokens do not fit this model's 48 positions.
    expect(report.datasets[1]).toMatchObject({ studioSeqLen: 128, settings: { seqLen: 48 } });
  });

  it('a missing model folder is one line on stderr, exit code 2 and no output', async () => {
    const out = join(tmp(), 'finetune.json');
    const r = await measure(['--model', join(tmp(), 'nowhere'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*nowhere: model folder not found\n$/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('an empty dataset is one line on stderr and exit code 2', async () => {
    const samples = tmp();
    mkdirSync(samples, { recursive: true });
    writeFileSync(join(samples, 'ships-log.txt'), '\n\n');
    const r = await measure(['--model', model, '--samples', samples, '--only', 'ships-log.txt', '--out', join(tmp(), 'finetune.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*ships-log\.txt: the file has no examples\n$/);
  });
});
