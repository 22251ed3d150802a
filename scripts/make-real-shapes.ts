/**
 * Writes random-weight checkpoints with the exact published shapes of six Hub models
 * (SmolLM2-135M, GPT-2 124M, Qwen2.5-0.5B, Qwen3-0.6B, Gemma-3-270M, Llama-3.2-1B), laid out as the
 * Hub lays out sharded checkpoints: config.json, generation_config.json, BF16
 * model-0000k-of-0000N.safetensors shards and model.safetensors.index.json, plus a batch.json
 * (1 × 64 random token ids) for `eval` / `train --batch`. No tokenizer: those commands do not read one.
 *
 *   npx tsx scripts/make-real-shapes.ts --out /tmp/real-shapes [--only smollm2-135m,gpt2-124m]
 *                                       [--shard-mb 200] [--seed 20240601] [--seq 64]
 *
 * The default shard cap (200 MB) is below the Hub's, on purpose: every model, even the 124M one,
 * then has at least two shards, so the index and cross-shard loading are exercised. A tensor larger
 * than the cap gets a shard of its own, as transformers' save_pretrained does.
 * Weights are generated and written in chunks, shard by shard, so memory stays at a few MB whatever
 * the model size. Same seed, same bytes.
 */
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { moduleSeed, seededRandom } from '../src/adapters/init';
import { elementCount, findModels, weightKeys, type Init, type RealModel, type WeightKey } from './real-shapes-models';

const BF16_BYTES = 2;
/** Elements generated per write: 8 MB of BF16, small next to the model, large enough to keep writes cheap. */
const CHUNK = 1 << 22;

interface Options {
  out: string;
  only: string[] | null;
  shardBytes: number;
  seed: number;
  seq: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '/tmp/real-shapes' },
      only: { type: 'string' },
      'shard-mb': { type: 'string', default: '200' },
      seed: { type: 'string', default: '20240601' },
      seq: { type: 'string', default: '64' },
    },
  });
  return {
    out: values.out!,
    only: values.only
      ? values.only
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : null,
    shardBytes: Number(values['shard-mb']) * 1e6,
    seed: Number(values.seed),
    seq: Number(values.seq),
  };
}

// ---------------------------------------------------------------------------------------------
// Sharding plan

interface Shard {
  file: string;
  keys: WeightKey[];
}

/** Greedy, in module order, like save_pretrained's split_torch_state_dict_into_shards. */
function planShards(keys: WeightKey[], capBytes: number): Shard[] {
  const groups: WeightKey[][] = [[]];
  let size = 0;
  for (const k of keys) {
    const bytes = elementCount(k.shape) * BF16_BYTES;
    if (size > 0 && size + bytes > capBytes) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(k);
    size += bytes;
  }
  const n = String(groups.length).padStart(5, '0');
  return groups.map((g, i) => ({ file: `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`, keys: g }));
}

// ---------------------------------------------------------------------------------------------
// Streaming safetensors writer

/** Header JSON space-padded to a multiple of 8 (as the reference writer does), data offsets in key order. */
function shardHeader(keys: WeightKey[]): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const k of keys) {
    const bytes = elementCount(k.shape) * BF16_BYTES;
    header[k.key] = { dtype: 'BF16', shape: k.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function writeShard(path: string, keys: WeightKey[], seedOf: (k: WeightKey) => number): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, shardHeader(keys));
    for (const k of keys) writeTensor(fd, k, seedOf(k));
  } finally {
    closeSync(fd);
  }
}

/** One tensor, CHUNK elements at a time: f32 values → BF16 → file. */
function writeTensor(fd: number, k: WeightKey, seed: number): void {
  const random = seededRandom(seed);
  const total = elementCount(k.shape);
  const f32 = new Float32Array(Math.min(CHUNK, total));
  const bf16 = new Uint16Array(f32.length);
  for (let done = 0; done < total; ) {
    const n = Math.min(CHUNK, total - done);
    fill(f32.subarray(0, n), k.init, random);
    toBf16(f32.subarray(0, n), bf16);
    writeSync(fd, new Uint8Array(bf16.buffer, 0, n * BF16_BYTES));
    done += n;
  }
}

function fill(out: Float32Array, init: Init, random: () => number): void {
  if (init.kind === 'const') {
    out.fill(init.value);
    return;
  }
  // Box–Muller: two normals per pair of uniforms.
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * init.std;
    const t = 2 * Math.PI * random();
    out[i] = r * Math.cos(t);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
  }
}

/** BF16 = top 16 bits of the f32, rounded to nearest even (no NaNs occur here, so no NaN guard). */
function toBf16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    dst[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
}

// ---------------------------------------------------------------------------------------------
// Side files

function indexJson(shards: Shard[]): string {
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const s of shards) {
    for (const k of s.keys) {
      weightMap[k.key] = s.file;
      totalSize += elementCount(k.shape) * BF16_BYTES;
    }
  }
  // The Hub's index lists weight_map sorted by key.
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`;
}

/** HF writes config.json with sorted keys and 2-space indent. */
function sortedJson(v: unknown): string {
  const sortKeys = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sortKeys);
    if (x && typeof x === 'object')
      return Object.fromEntries(
        Object.keys(x)
          .sort()
          .map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]),
      );
    return x;
  };
  return `${JSON.stringify(sortKeys(v), null, 2)}\n`;
}

/** batch 1 × seq random ids below the vocabulary; labels = inputs (the CLI shifts them). */
function batchJson(vocab: number, seq: number, seed: number): string {
  const random = seededRandom(seed);
  const ids = Array.from({ length: seq }, () => Math.floor(random() * vocab));
  return `${JSON.stringify({ input_ids: [ids], labels: [ids] })}\n`;
}

// ---------------------------------------------------------------------------------------------
// Cross-check against the engine's own key list (informational: the engine may not know the family yet)

async function compareWithEngine(m: RealModel, keys: WeightKey[]): Promise<string> {
  try {
    const { expectedWeights, parseModelConfig } = await import('../src/formats/hf-config');
    const config = parseModelConfig(JSON.stringify(m.config), `${m.name}/config.json`);
    const engine = expectedWeights(config).filter((w) => !w.optional);
    const mine = new Map(keys.map((k) => [k.key, k.shape.join('x')]));
    const diff = engine.filter((w) => mine.get(w.key) !== w.shape.join('x')).map((w) => `${w.key} [${w.shape}]`);
    const extra = keys.filter((k) => !engine.some((w) => w.key === k.key)).map((k) => k.key);
    if (!diff.length && !extra.length) return 'engine key list: identical';
    return `engine key list DIFFERS: engine wants ${diff.slice(0, 3).join(', ') || '-'}; engine lacks ${extra.slice(0, 3).join(', ') || '-'}`;
  } catch (e) {
    return `engine refuses config: ${(e as Error).message}`;
  }
}

// ---------------------------------------------------------------------------------------------

async function build(m: RealModel, opts: Options, modelIndex: number): Promise<void> {
  const started = performance.now();
  const dir = join(opts.out, m.name);
  rmSync(dir, { recursive: true, force: true }); // stale shards of another cap must not linger
  mkdirSync(dir, { recursive: true });
  const keys = weightKeys(m);
  const params = keys.reduce((a, k) => a + elementCount(k.shape), 0);
  const shards = planShards(keys, opts.shardBytes);
  const modelSeed = moduleSeed(opts.seed, modelIndex);
  const seeds = new Map(keys.map((k, i) => [k.key, moduleSeed(modelSeed, i)]));
  for (const s of shards) writeShard(join(dir, s.file), s.keys, (k) => seeds.get(k.key)!);
  writeFileSync(join(dir, 'model.safetensors.index.json'), indexJson(shards));
  writeFileSync(join(dir, 'config.json'), sortedJson(m.config));
  writeFileSync(join(dir, 'generation_config.json'), sortedJson(m.generationConfig));
  writeFileSync(join(dir, 'batch.json'), batchJson(m.config.vocab_size as number, opts.seq, modelSeed ^ 0x5eed));
  const secs = (performance.now() - started) / 1000;
  const check = params === m.publishedParams ? 'matches the published count' : `PUBLISHED ${m.publishedParams.toLocaleString('en')}`;
  console.log(
    `${m.name} (${m.hubId}): ${params.toLocaleString('en')} params (${check}), ${shards.length} shards, ` +
      `${((params * BF16_BYTES) / 1e6).toFixed(0)} MB, built in ${secs.toFixed(1)} s → ${dir}`,
  );
  console.log(`  ${await compareWithEngine(m, keys)}`);
}

async function main(): Promise<void> {
  const opts = options();
  const all = findModels(null);
  for (const m of findModels(opts.only)) await build(m, opts, all.indexOf(m));
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
