/**
 * The one table `npm run bench` prints (Markdown, so README.md can show it as is), built from
 * the page's result. Errors stand in the cells where numbers would, shortened, with the full
 * text in a numbered note under the table.
 */
import { ADAPTER_METHODS, METHOD_NAMES } from '../src/adapters';
import {
  type AdapterCostResult,
  GRAD_TOLERANCE,
  LOSS_TOLERANCE,
  type MatmulRow,
  type Measured,
  type MemoryResult,
  type PageResult,
  type ProfileResult,
  type SectionResult,
  type StepResult,
} from './results';

const MIB = 2 ** 20;
const CELL_ERROR_CHARS = 60;
const NONE = '—';

class TableBuilder {
  readonly rows: string[][] = [];
  readonly notes: string[] = [];

  /** A cell for an error: its start, and a note with the whole text (one note per distinct error). */
  error(text: string): string {
    if (!this.notes.includes(text)) this.notes.push(text);
    const oneLine = text.replace(/\s+/g, ' ').replaceAll('|', '/');
    const short = oneLine.length > CELL_ERROR_CHARS ? `${oneLine.slice(0, CELL_ERROR_CHARS - 1)}…` : oneLine;
    return `error [${this.notes.indexOf(text) + 1}]: ${short}`;
  }

  cell(m: Measured, format: (v: number) => string): string {
    return 'value' in m ? format(m.value) : this.error(m.error);
  }

  row(...cells: string[]): void {
    this.rows.push(cells);
  }
}

function ratio(x: number): string {
  return `${x.toFixed(2)}×`;
}

function value(m: Measured): number | null {
  return 'value' in m ? m.value : null;
}

function isError<T extends object>(s: SectionResult<T>): s is { readonly error: string } {
  return 'error' in s && typeof (s as { error?: unknown }).error === 'string';
}

function matmulRows(t: TableBuilder, rows: readonly MatmulRow[]): void {
  const gflops = (v: number) => `${v.toFixed(2)} GFLOP/s`;
  for (const r of rows) {
    const ours = value(r.ours);
    const peers = [value(r.tfjs), value(r.ort)].filter((v): v is number => v !== null);
    const vsBest = ours !== null && peers.length > 0 ? ratio(ours / Math.max(...peers)) : NONE;
    t.row('1 matmul', r.name.replace(/\s+/g, ' '), t.cell(r.ours, gflops), t.cell(r.tfjs, gflops), t.cell(r.ort, gflops), vsBest);
  }
}

function stepRows(t: TableBuilder, s: StepResult, batch: number, seq: number): void {
  if ('error' in s.check) {
    t.row('2 step', 'numerical check against TF.js', NONE, t.error(s.check.error), NONE, NONE);
  } else {
    const c = s.check;
    const verdict = (rel: number, tolerance: number) => `rel ${rel.toExponential(1)} ${rel <= tolerance ? 'ok' : 'FAILED'}`;
    t.row(
      '2 step',
      `check: loss of one batch (rel ≤ ${LOSS_TOLERANCE})`,
      c.lossOurs.toFixed(6),
      c.lossTfjs.toFixed(6),
      NONE,
      verdict(c.lossRel, LOSS_TOLERANCE),
    );
    const key = c.worstGradKey.replace('base_model.model.model.', '');
    t.row(
      '2 step',
      `check: LoRA grads, worst max-norm rel (≤ ${GRAD_TOLERANCE}): ${key}`,
      NONE,
      NONE,
      NONE,
      verdict(c.worstGradRel, GRAD_TOLERANCE),
    );
  }
  const perSecond = (v: number) => `${v.toFixed(1)} tok/s`;
  const ours = value(s.ours);
  const tfjs = value(s.tfjs);
  const name = `LoRA step ${batch}×${seq} tokens, ${(s.parameters / 1e6).toFixed(2)}M params, ${s.trainable} trainable`;
  t.row(
    '2 step',
    name,
    t.cell(s.ours, perSecond),
    t.cell(s.tfjs, perSecond),
    NONE,
    ours !== null && tfjs !== null ? ratio(ours / tfjs) : NONE,
  );
}

function adapterRows(t: TableBuilder, a: AdapterCostResult): void {
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  const frozen = value(a.frozen);
  t.row('3 adapters', 'frozen model forward + backward', t.cell(a.frozen, ms), NONE, NONE, frozen !== null ? ratio(1) : NONE);
  for (const method of METHOD_NAMES) {
    const name = ADAPTER_METHODS[method].format.label;
    const m = a[method];
    const v = value(m);
    const vsFrozen = v !== null && frozen !== null ? ratio(v / frozen) : NONE;
    t.row('3 adapters', `${name} step (fwd + bwd + AdamW) / frozen`, t.cell(m, ms), NONE, NONE, vsFrozen);
  }
}

function memoryRows(t: TableBuilder, m: MemoryResult): void {
  const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
  const { weights, adapterState, savedActivations } = m.minimum;
  const persistentMin = weights + adapterState;
  const row = (name: string, bytes: number, min: number) =>
    t.row('4 memory', `${name} (minimum ${mib(min)})`, mib(bytes), NONE, NONE, ratio(bytes / min));
  row('weights + LoRA + grads + AdamW m, v', m.persistentBytes, persistentMin);
  row('buffers a step adds vs saved activations', m.stepBytes, savedActivations);
  row('most in use at once during a step', m.stepPeakInUseBytes, savedActivations);
  row('total allocated for training', m.persistentBytes + m.stepBytes, persistentMin + savedActivations);
}

/** Kernels above this share of the profiled GPU time get a row each; the rest share one. */
const PROFILE_MIN_SHARE = 0.01;

function profileRows(t: TableBuilder, p: ProfileResult): void {
  const total = p.kernels.reduce((ms, k) => ms + k.totalMs, 0);
  const perStep = (ms: number) => `${(ms / p.steps).toFixed(1)} ms/step`;
  const share = (ms: number) => `${((100 * ms) / total).toFixed(1)} %`;
  t.row('5 profile', `GPU time of a LoRA step, all kernels (${p.steps} steps, timestamp-query)`, perStep(total), NONE, NONE, '100 %');
  const shown = p.kernels.filter((k) => k.totalMs >= PROFILE_MIN_SHARE * total);
  for (const k of shown)
    t.row('5 profile', `${k.kernel} (${k.calls / p.steps} calls/step)`, perStep(k.totalMs), NONE, NONE, share(k.totalMs));
  const rest = p.kernels.length - shown.length;
  if (rest > 0) {
    const ms = p.kernels.slice(shown.length).reduce((sum, k) => sum + k.totalMs, 0);
    t.row('5 profile', `${rest} other kernels`, perStep(ms), NONE, NONE, share(ms));
  }
}

/** Adds a section's rows, or one row with its error. */
function sectionRows<T extends object>(t: TableBuilder, name: string, s: SectionResult<T> | undefined, rows: (r: T) => void): void {
  if (s === undefined) return;
  if (isError(s)) t.row(name, 'section failed', t.error(s.error), NONE, NONE, NONE);
  else rows(s);
}

export function benchTable(r: PageResult): string[] {
  const t = new TableBuilder();
  sectionRows(t, '1 matmul', r.matmul, (m) => matmulRows(t, m.rows));
  sectionRows(t, '2 step', r.step, (s) => stepRows(t, s, r.sizes.batch, r.sizes.seq));
  sectionRows(t, '3 adapters', r.adapters, (a) => adapterRows(t, a));
  sectionRows(t, '4 memory', r.memory, (m) => memoryRows(t, m));
  sectionRows(t, '5 profile', r.profile, (p) => profileRows(t, p));
  const header = ['section', 'measurement', 'ours', 'TF.js WebGPU', 'ORT-web WebGPU', 'ratio'];
  const lines = [header, header.map(() => '---'), ...t.rows].map((cells) => `| ${cells.join(' | ')} |`);
  return [...lines, ...t.notes.map((n, i) => `[${i + 1}] ${n}`)];
}
