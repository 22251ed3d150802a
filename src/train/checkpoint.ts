/**
 * A training checkpoint as bytes, and back: everything a run needs to go on exactly where it
 * stopped. It is one safetensors file (so a torn write is one file to detect, and Python's
 * safetensors can open it): the adapter's PEFT tensors under `adapter/<key>`, each parameter's
 * AdamW moments under `optimizer/<key>/exp_avg` and `…/exp_avg_sq`, and in `__metadata__` a JSON
 * manifest (the adapter spec, the optimizer step and seed, the data order, and whatever the
 * caller keeps about the run) plus a checksum of every tensor.
 *
 * The rest of a run's state is a function of these: dropout masks are seeded by (seed, step)
 * (Trainer.dropoutSeed), the learning rate is learningRateAt(schedule, step), and the batch
 * sampler's shuffles are seeded per epoch, so its position is the count of micro-batches drawn.
 */
import type { AdapterSpec } from '../formats/peft';
import { parseSafetensors, writeSafetensors } from '../formats/safetensors';
import { Fingerprint } from './fingerprint';
import type { TrainerState } from './trainer';

export const CHECKPOINT_FORMAT = 'webgpu-finetune-studio/checkpoint@1';

/** Where the batch sampler stands. */
export interface DataOrder {
  /** Micro-batches drawn so far; replaying that many draws puts a new sampler where the old one was. */
  readonly drawn: number;
  /** The epoch the sampler was in (checked after the replay). */
  readonly epoch: number;
}

type Tensors = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

export interface TrainingCheckpoint<Run = unknown> {
  readonly spec: AdapterSpec;
  /** Every tensor of the adapter's PEFT file (Adapter.exportTensors). */
  readonly adapter: Tensors;
  readonly trainer: TrainerState;
  readonly dataOrder: DataOrder;
  /** What the caller keeps about the run (the studio: what identifies it, its settings, its loss history); plain JSON. */
  readonly run: Run;
}

interface Manifest<Run> {
  readonly spec: AdapterSpec;
  readonly trainer: { readonly step: number; readonly seed: number; readonly keys: readonly string[] };
  readonly dataOrder: DataOrder;
  readonly run: Run;
}

export class CheckpointError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

const ADAPTER = 'adapter/';
const OPTIMIZER = 'optimizer/';

export function serializeCheckpoint<Run>(c: TrainingCheckpoint<Run>): Uint8Array {
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [key, t] of c.adapter) tensors.set(ADAPTER + key, t);
  for (const [key, s] of c.trainer.moments) {
    tensors.set(`${OPTIMIZER}${key}/exp_avg`, { shape: s.shape, data: s.m });
    tensors.set(`${OPTIMIZER}${key}/exp_avg_sq`, { shape: s.shape, data: s.v });
  }
  const manifest: Manifest<Run> = {
    spec: c.spec,
    trainer: { step: c.trainer.step, seed: c.trainer.seed, keys: [...c.trainer.moments.keys()] },
    dataOrder: c.dataOrder,
    run: c.run,
  };
  return writeSafetensors(tensors, { format: CHECKPOINT_FORMAT, manifest: JSON.stringify(manifest), checksum: checksumOf(tensors) });
}

/** The checkpoint in `bytes`; a CheckpointError names what is wrong (not a checkpoint, another version, torn or corrupt). */
export function deserializeCheckpoint<Run>(bytes: Uint8Array, file: string): TrainingCheckpoint<Run> {
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(bytes, file);
  } catch (e) {
    throw new CheckpointError(file, `not a readable checkpoint (${(e as Error).message})`);
  }
  const { tensors, metadata } = parsed;
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(file, `not a checkpoint of format ${CHECKPOINT_FORMAT}`);
  if (metadata.checksum !== checksumOf(tensors))
    throw new CheckpointError(file, 'its tensors do not match their checksum (a torn or corrupt file)');
  const manifest = JSON.parse(metadata.manifest ?? 'null') as Manifest<Run> | null;
  if (!manifest?.trainer || !manifest.spec || !manifest.dataOrder) throw new CheckpointError(file, 'its manifest is incomplete');
  const adapter = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) if (name.startsWith(ADAPTER)) adapter.set(name.slice(ADAPTER.length), t);
  return {
    spec: manifest.spec,
    adapter,
    trainer: trainerStateOf(manifest, tensors, file),
    dataOrder: manifest.dataOrder,
    run: manifest.run,
  };
}

function trainerStateOf(manifest: Manifest<unknown>, tensors: Tensors, file: string): TrainerState {
  const moments = new Map<string, { shape: readonly number[]; m: Float32Array; v: Float32Array }>();
  for (const key of manifest.trainer.keys) {
    const m = tensors.get(`${OPTIMIZER}${key}/exp_avg`);
    const v = tensors.get(`${OPTIMIZER}${key}/exp_avg_sq`);
    if (!m || !v) throw new CheckpointError(file, `the AdamW moments of ${key} are missing`);
    moments.set(key, { shape: m.shape, m: m.data, v: v.data });
  }
  return { step: manifest.trainer.step, seed: manifest.trainer.seed, moments };
}

/** Every tensor's name, shape and bit pattern, in name order. */
function checksumOf(tensors: Tensors): string {
  const f = new Fingerprint();
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    f.text(name)
      .words(t.shape)
      .words(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length));
  }
  return f.digest();
}
