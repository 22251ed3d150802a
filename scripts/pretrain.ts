/**
 * `npm run pretrain`: trains the bundled default base model from scratch with the project's own
 * engine — a full-rank warm start, then ReLoRA — on the King James Bible (public domain), as
 * Debian's `bible-kjv` package installs it (`apt-get install bible-kjv`); nothing is downloaded.
 *
 * Reproducible: fixed seed, corpus, tokenizer and settings (below). Slow on a CPU (SwiftShader),
 * so it checkpoints the merged weights at every ReLoRA cycle boundary into --checkpoint-dir and
 * resumes from the newest checkpoint when started again. Output: a Hugging Face model folder
 * (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) in --out.
 *
 *   npm run pretrain -- [--out public/models/kjv-tiny] [--checkpoint-dir ~/.cache/studio-pretrain]
 *                       [--steps 600] [--warm-start 300] [--reset 100] [--batch 4] [--hidden 128] [--layers 4]
 *                       [--intermediate 384] [--smoke]   (--smoke: a few steps of a tiny model, to check the pipeline)
 *
 * The comparison of the ReLoRA paper's table (full-rank vs ReLoRA vs plain LoRA at equal steps from one
 * warm start): after the run above, `npm run pretrain -- --branch full` and `--branch lora` continue from
 * the warm-start checkpoint it kept, on the very same batches (each step's batch depends only on the step),
 * and log their validation loss beside the ReLoRA run's in <checkpoint-dir>/log-<branch>.jsonl
 * (`--stop-at N` ends a branch at step N, its schedule unchanged).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, appendFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ReloraRun, type ReloraSettings } from '../src/train/relora';
import { seededRandom } from '../src/adapters/init';
import { expectedWeights, parseModelConfig } from '../src/formats/hf-config';
import { writeFileAtomic } from '../src/formats/node-fs';
import { parseSafetensors, writeSafetensors } from '../src/formats/safetensors';
import { createNodeRuntime } from '../src/gpu/node';
import { Transformer, type WeightMap } from '../src/model/transformer';
import { bpeTokenizerJson, END_OF_TEXT, trainBpe } from '../src/tokenizer/bpe-trainer';
import { releaseBatch, uploadBatch } from '../src/train/device-batch';
import { trainHyper } from '../src/train/defaults';
import { evaluateLoss } from '../src/train/trainer';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1] : undefined) ?? fallback;
}

const SMOKE = process.argv.includes('--smoke');
const OUT = flag('out', SMOKE ? '/tmp/kjv-smoke' : 'public/models/kjv-tiny');
const CKPT = flag('checkpoint-dir', join(homedir(), '.cache', SMOKE ? 'studio-pretrain-smoke' : 'studio-pretrain'));
const SEED = 1611; // the year of the King James Version
const VOCAB = SMOKE ? 300 : 2048;
const SEQ = SMOKE ? 16 : 64;
const BATCH = Number(flag('batch', SMOKE ? '2' : '4'));
const STEPS = Number(flag('steps', SMOKE ? '8' : '600'));
const WARM_START = Number(flag('warm-start', SMOKE ? '3' : '300'));
const RESET_EVERY = Number(flag('reset', SMOKE ? '2' : '100'));
const HIDDEN = Number(flag('hidden', SMOKE ? '32' : '128'));
/** 'relora' is the pretraining run itself; 'full' and 'lora' are the comparison branches. */
const BRANCH = flag('branch', 'relora') as 'relora' | 'full' | 'lora';
const VALIDATE_EVERY = SMOKE ? 2 : 50;
/** Stop before `--steps` (the schedule still spans `--steps`): the comparison branches use it to save time. */
const STOP_AT = Number(flag('stop-at', String(STEPS)));
const CONFIG = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_size: HIDDEN,
  num_hidden_layers: Number(flag('layers', SMOKE ? '1' : '4')),
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: Number(flag('intermediate', SMOKE ? '64' : '384')),
  vocab_size: VOCAB,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: VOCAB - 1,
  eos_token_id: VOCAB - 1,
  torch_dtype: 'float32',
};
const RELORA: ReloraSettings = {
  rank: SMOKE ? 4 : 32,
  alpha: SMOKE ? 8 : 32,
  totalSteps: STEPS,
  warmStartSteps: WARM_START,
  resetEvery: RESET_EVERY,
  firstWarmupSteps: SMOKE ? 1 : 30,
  restartWarmupSteps: SMOKE ? 1 : 10,
  pruning: 'random',
  pruningRatio: 0.999,
  minLrRatio: 0.1,
};
/** The branches share ReLoRA's code path: full-rank is a warm start that never ends, LoRA a cycle that never resets. */
const SETTINGS: ReloraSettings =
  BRANCH === 'full' ? { ...RELORA, warmStartSteps: STEPS } : BRANCH === 'lora' ? { ...RELORA, resetEvery: STEPS } : RELORA;
const HYPER = trainHyper(3e-3, { beta2: 0.95, weightDecay: 0.01, seed: SEED });

/** The corpus: every verse of the KJV, verse references stripped, one verse per line. */
function readCorpus(): string {
  let raw: string;
  try {
    raw = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  } catch {
    throw new Error("the corpus comes from Debian's bible-kjv package: apt-get install bible-kjv");
  }
  return raw
    .split('\n')
    .map((l) => l.replace(/^\S+\d+:\d+\s+/, '').trim())
    .filter((l) => l.length > 0)
    .join('\n');
}

/** Same seed, same weights: N(0, 0.02) for matrices (HF's initializer_range), 1 for norms. */
function initialWeights(config: ReturnType<typeof parseModelConfig>): WeightMap {
  const random = seededRandom(SEED);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const spec of expectedWeights(config)) {
    if (spec.optional) continue;
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = spec.shape.length === 1 ? new Float32Array(n).fill(1) : Float32Array.from({ length: n }, () => 0.02 * gaussian());
    weights.set(spec.key, { shape: spec.shape, data });
  }
  return weights;
}

interface Checkpoint {
  readonly step: number;
  readonly weights: WeightMap;
}

function loadCheckpoint(dir: string): Checkpoint | null {
  const state = join(dir, 'state.json');
  if (!existsSync(state)) return null;
  const { step } = JSON.parse(readFileSync(state, 'utf8')) as { step: number };
  const path = join(dir, 'model.safetensors');
  return { step, weights: parseSafetensors(readFileSync(path), path).tensors };
}

async function saveModel(dir: string, weights: WeightMap, extra: Record<string, string>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await writeFileAtomic(
    join(dir, 'model.safetensors'),
    writeSafetensors(weights as Map<string, { shape: number[]; data: Float32Array }>, { format: 'pt' }),
  );
  for (const [name, text] of Object.entries(extra)) await writeFileAtomic(join(dir, name), text);
}

async function main(): Promise<void> {
  const corpus = readCorpus();
  const tokenizerPath = join(CKPT, 'tokenizer.json');
  mkdirSync(CKPT, { recursive: true });
  if (!existsSync(tokenizerPath)) {
    const text = SMOKE ? corpus.slice(0, 20000) : corpus;
    await writeFileAtomic(tokenizerPath, JSON.stringify(bpeTokenizerJson(trainBpe(text, VOCAB))));
  }
  const tokenizerJson = readFileSync(tokenizerPath, 'utf8');
  const tokenizer = new Tokenizer(JSON.parse(tokenizerJson), {});
  const eos = tokenizer.token_to_id(END_OF_TEXT)!;
  const verses = corpus.split('\n');
  const heldOut = Math.floor(verses.length * 0.98); // the last 2 % of verses (end of Revelation) validate
  const encode = (lines: string[]) => lines.flatMap((l) => [...tokenizer.encode(l, { add_special_tokens: false }).ids, eos]);
  const train = Int32Array.from(encode(SMOKE ? verses.slice(0, 400) : verses.slice(0, heldOut)));
  const valid = Int32Array.from(encode(verses.slice(heldOut, SMOKE ? heldOut + 50 : undefined)));
  console.log(`corpus: ${verses.length} verses, ${train.length} training tokens, ${valid.length} validation tokens, vocabulary ${VOCAB}`);

  const config = parseModelConfig(JSON.stringify(CONFIG), 'pretrain config');
  const warmStartDir = join(CKPT, 'warm-start');
  const checkpoint = BRANCH === 'relora' ? loadCheckpoint(CKPT) : loadCheckpoint(warmStartDir);
  if (BRANCH !== 'relora' && !checkpoint)
    throw new Error(`--branch ${BRANCH} starts from ${warmStartDir}: run the pretraining past step ${WARM_START} first`);
  const logPath = join(CKPT, BRANCH === 'relora' ? 'log.jsonl' : `log-${BRANCH}.jsonl`);
  const rt = await createNodeRuntime();
  const model = new Transformer(rt, config, checkpoint?.weights ?? initialWeights(config));
  const run = new ReloraRun(rt, model, SETTINGS, HYPER, checkpoint?.step ?? 0);
  if (checkpoint) console.log(`${BRANCH}: resuming at step ${checkpoint.step}`);
  const window = (tokens: Int32Array, start: number) => tokens.subarray(start, start + SEQ);
  /** Each step's batch depends on the step alone, so that resumed runs and comparison branches see the same data. */
  const batchForStep = (step: number) => {
    const random = seededRandom(SEED * 7919 + step);
    const ids = new Int32Array(BATCH * SEQ);
    for (let b = 0; b < BATCH; b++) ids.set(window(train, Math.floor(random() * (train.length - SEQ))), b * SEQ);
    return { inputIds: ids, labels: ids, batch: BATCH, seq: SEQ };
  };
  const validBatch = (() => {
    const rows = Math.min(16, Math.floor(valid.length / SEQ));
    const ids = new Int32Array(rows * SEQ);
    for (let b = 0; b < rows; b++) ids.set(window(valid, b * SEQ), b * SEQ);
    return uploadBatch(rt, { inputIds: ids, labels: ids, batch: rows, seq: SEQ });
  })();

  const validate = async (): Promise<void> => {
    const valLoss = await evaluateLoss(rt, model, run.currentAdapter, validBatch);
    appendFileSync(logPath, `${JSON.stringify({ step: run.step, valLoss, ppl: Math.exp(valLoss), at: Date.now() })}\n`);
    console.log(`${BRANCH} step ${run.step}: validation loss ${valLoss.toFixed(4)} (perplexity ${Math.exp(valLoss).toFixed(1)})`);
  };
  const started = Date.now();
  while (run.step < STOP_AT) {
    // Only the ReLoRA run checkpoints: at each cycle boundary, and a kept copy at the end of the warm start.
    if (BRANCH === 'relora' && run.step > 0 && run.atCycleBoundary) {
      const weights = await run.exportMergedWeights();
      await saveModel(CKPT, weights, { 'state.json': JSON.stringify({ step: run.step }) });
      if (run.step === WARM_START) await saveModel(warmStartDir, weights, { 'state.json': JSON.stringify({ step: run.step }) });
    }
    if (run.step % VALIDATE_EVERY === 0) await validate();
    const batch = uploadBatch(rt, batchForStep(run.step));
    const r = await run.trainStep(batch);
    releaseBatch(rt, batch);
    appendFileSync(logPath, `${JSON.stringify({ ...r, at: Date.now() })}\n`);
    if (r.step % 10 === 0 || r.reset) {
      const perStep = (Date.now() - started) / 1000 / Math.max(1, r.step + 1 - (checkpoint?.step ?? 0));
      console.log(
        `step ${r.step} ${r.phase}${r.reset ? ' (reset)' : ''} loss ${r.loss.toFixed(4)} lr ${r.lr.toExponential(2)} · ${perStep.toFixed(1)} s/step`,
      );
    }
  }
  await validate();
  if (BRANCH === 'relora') {
    const weights = await run.exportMergedWeights();
    const tokenizerConfig = {
      tokenizer_class: 'PreTrainedTokenizerFast',
      eos_token: END_OF_TEXT,
      bos_token: END_OF_TEXT,
      model_max_length: 128,
    };
    await saveModel(OUT, weights, {
      'config.json': `${JSON.stringify(CONFIG, null, 2)}\n`,
      'tokenizer.json': tokenizerJson,
      'tokenizer_config.json': `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
    });
    console.log(`wrote ${OUT}`);
  }
  run.destroy();
  releaseBatch(rt, validBatch);
  model.destroy();
  rt.destroy();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`pretrain: ${(e as Error).message}`);
    process.exit(1);
  },
);
