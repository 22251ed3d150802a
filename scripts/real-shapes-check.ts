/**
 * Runs the headless CLI on the checkpoints scripts/make-real-shapes.ts built, one subprocess per
 * command under /usr/bin/time -v (so wall time and peak RSS are the real process's, model loading
 * included): `eval`, a 2-step LoRA `train` on the same batch, and `eval` again with the trained
 * adapter. Prints a markdown table and exits non-zero when a model that ran did not lower its loss
 * (or crashed). A model the engine refuses (exit code 2 with a one-line reason, e.g. a family it does
 * not implement yet) is reported as refused; that fails the run only with --strict.
 *
 *   npx tsx scripts/real-shapes-check.ts [--dir /tmp/real-shapes] [--only gpt2-124m,smollm2-135m]
 *        [--lr 1e-3] [--rank 8] [--timeout-min 60] [--md table.md] [--strict] [--repo DIR]
 *        [--device-limits spec-default]
 *
 * --device-limits spec-default runs every command on a device with exactly WebGPU's default
 * limits (128 MiB per binding, 256 MiB per buffer) and adds an `eval` on the adapter's limits,
 * which must give the same loss; the table gives each train's peak GPU bytes against the bound
 * of 2.4 bytes per parameter + 256 MiB.
 *
 * --repo runs the CLI of another checkout (e.g. `git archive HEAD` unpacked, with node_modules linked),
 * so the committed engine can be measured while the working tree is mid-change.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findModels, type RealModel } from './real-shapes-models';

const THIS_REPO = resolve(import.meta.dirname, '..');
/** `--rank r --alpha 2r`, PEFT's usual pairing; the scale then does not depend on r. */
const ALPHA_PER_RANK = 2;

interface Options {
  dir: string;
  only: string[] | null;
  lr: number;
  rank: number;
  timeoutMs: number;
  md: string | null;
  strict: boolean;
  /** Checkout whose src/cli/main.ts runs (tsx always comes from this repo's node_modules). */
  repo: string;
  deviceLimits: 'adapter' | 'spec-default';
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: '/tmp/real-shapes' },
      only: { type: 'string' },
      lr: { type: 'string', default: '1e-3' },
      rank: { type: 'string', default: '8' },
      'timeout-min': { type: 'string', default: '60' },
      md: { type: 'string' },
      strict: { type: 'boolean', default: false },
      repo: { type: 'string', default: THIS_REPO },
      'device-limits': { type: 'string', default: 'adapter' },
    },
  });
  const deviceLimits = values['device-limits'];
  if (deviceLimits !== 'adapter' && deviceLimits !== 'spec-default') throw new Error('--device-limits must be adapter or spec-default');
  return {
    dir: values.dir!,
    only: values.only
      ? values.only
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : null,
    lr: Number(values.lr),
    rank: Number(values.rank),
    timeoutMs: Number(values['timeout-min']) * 60_000,
    md: values.md ?? null,
    strict: values.strict!,
    repo: resolve(values.repo!),
    deviceLimits,
  };
}

// ---------------------------------------------------------------------------------------------
// Running one CLI command under /usr/bin/time -v

interface Run {
  code: number | null;
  stdout: string;
  /** The CLI's own stderr, with /usr/bin/time's report cut off. */
  error: string;
  wallS: number;
  /** User + system CPU seconds: a fairer speed measure than wall time when other work shares the cores. */
  cpuS: number;
  maxRssKb: number;
  timedOut: boolean;
}

function runCli(repo: string, args: string[], timeoutMs: number): Promise<Run> {
  const tsx = join(THIS_REPO, 'node_modules', '.bin', 'tsx');
  const cli = join(repo, 'src', 'cli', 'main.ts');
  return new Promise((done) => {
    // detached: its own process group, so a timeout can end time, tsx and node together (and nothing else).
    const child = spawn('/usr/bin/time', ['-v', tsx, cli, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    // Killing `time` alone would orphan the node process under it; the group holds exactly what we spawned.
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, ...splitTimeReport(stderr), timedOut });
    });
  });
}

/** GNU time appends its report to stderr; everything before it is the command's own stderr. */
function splitTimeReport(stderr: string): { error: string; wallS: number; cpuS: number; maxRssKb: number } {
  const cut = stderr.search(/^(Command exited with non-zero status|Command terminated by signal|\tCommand being timed:)/m);
  const own = cut < 0 ? stderr : stderr.slice(0, cut);
  const report = cut < 0 ? '' : stderr.slice(cut);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(report)?.[1] ?? '';
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1];
  const seconds = (what: string) => Number(new RegExp(`${what} time \\(seconds\\): ([\\d.]+)`).exec(report)?.[1] ?? NaN);
  const cpuS = seconds('User') + seconds('System');
  return { error: own.trim(), wallS: clockToSeconds(wall), cpuS, maxRssKb: rss ? Number(rss) : NaN };
}

function clockToSeconds(clock: string): number {
  if (!clock) return NaN;
  return clock.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

/** Every stdout line that is a JSON object (the CLI prints one per result or step). */
function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').flatMap((line) => {
    try {
      const v = JSON.parse(line);
      return v && typeof v === 'object' ? [v as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

// ---------------------------------------------------------------------------------------------
// One model: eval → train 2 steps → eval with the adapter

type Outcome = 'ok' | 'loss did not go down' | 'refused' | 'failed' | 'not built';

interface Row {
  model: RealModel;
  params: number | null;
  evalLoss?: number;
  stepLosses: number[];
  lossAfter?: number;
  wall: number[];
  cpu: number[];
  maxRssKb: number;
  outcome: Outcome;
  note: string;
  /** Eval on the adapter's limits, with --device-limits spec-default (must equal evalLoss). */
  evalAdapterLimits?: number;
  /** The train command's last line: the most GPU memory held at once. */
  peakGpuBytes?: number;
}

async function checkModel(m: RealModel, opts: Options): Promise<Row> {
  const dir = join(opts.dir, m.name);
  const row: Row = { model: m, params: null, stepLosses: [], wall: [], cpu: [], maxRssKb: NaN, outcome: 'ok', note: '' };
  if (!existsSync(join(dir, 'config.json')))
    return { ...row, outcome: 'not built', note: `run scripts/make-real-shapes.ts --out ${opts.dir}` };
  row.params = countParams(dir);
  const batch = join(dir, 'batch.json');
  const scratch = mkdtempSync(join(tmpdir(), `real-shapes-${m.name}-`));
  try {
    const limits = ['--device-limits', opts.deviceLimits];
    const before = await runCommand(row, `${m.name} eval`, ['eval', '--model', dir, '--batch', batch, ...limits], opts);
    if (!before) return row;
    row.evalLoss = before.at(-1)!.loss as number;
    if (opts.deviceLimits === 'spec-default') {
      const unlimited = await runCommand(row, `${m.name} eval (adapter limits)`, ['eval', '--model', dir, '--batch', batch], opts);
      if (!unlimited) return row;
      row.evalAdapterLimits = unlimited.at(-1)!.loss as number;
      if (Math.abs(row.evalAdapterLimits - row.evalLoss) > 1e-6 * Math.abs(row.evalLoss)) {
        row.outcome = 'failed';
        row.note = `eval under spec-default limits ${row.evalLoss} differs from ${row.evalAdapterLimits} on the adapter's`;
        return row;
      }
    }

    const adapter = join(scratch, 'adapter');
    const trainArgs = [
      'train',
      '--model',
      dir,
      '--batch',
      batch,
      '--method',
      'lora',
      '--rank',
      String(opts.rank),
      '--alpha',
      String(ALPHA_PER_RANK * opts.rank),
      '--targets',
      m.loraTargets.join(','),
      '--steps',
      '2',
      // Unclipped, as README's table was measured (the CLI clips at 1 by default).
      '--lr',
      String(opts.lr),
      '--max-grad-norm',
      '0',
      '--seed',
      '0',
      '--out',
      adapter,
      ...limits,
    ];
    const train = await runCommand(row, `${m.name} train`, trainArgs, opts);
    if (!train) return row;
    row.stepLosses = train.filter((l) => 'step' in l).map((l) => l.loss as number);
    row.peakGpuBytes = train.find((l) => l.done === true)?.peak_gpu_bytes as number | undefined;

    const after = await runCommand(
      row,
      `${m.name} eval+adapter`,
      ['eval', '--model', dir, '--adapter', adapter, '--batch', batch, ...limits],
      opts,
    );
    if (!after) return row;
    row.lossAfter = after.at(-1)!.loss as number;
    if (!(row.lossAfter < row.evalLoss)) row.outcome = 'loss did not go down';
    return row;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs one command, folds its time and memory into the row; on failure marks the row and returns null. */
async function runCommand(row: Row, label: string, args: string[], opts: Options): Promise<Record<string, unknown>[] | null> {
  log(`${label}: started`);
  const r = await runCli(opts.repo, args, opts.timeoutMs);
  row.wall.push(r.wallS);
  row.cpu.push(r.cpuS);
  row.maxRssKb = Math.max(Number.isNaN(row.maxRssKb) ? 0 : row.maxRssKb, r.maxRssKb || 0);
  const all = jsonLines(r.stdout);
  const lines = all.filter((l) => typeof l.loss === 'number');
  log(
    `${label}: exit ${r.code}${r.timedOut ? ' (timed out)' : ''}, ${r.wallS.toFixed(1)} s wall, ${r.cpuS.toFixed(1)} s cpu, ${(r.maxRssKb / 2 ** 20).toFixed(2)} GiB` +
      (lines.length ? `, losses ${lines.map((l) => (l.loss as number).toFixed(6)).join(' ')}` : ''),
  );
  if (r.code === 0 && lines.length) return all;
  // The message is the first line; a crash's stack trace follows it and goes to the log.
  const message =
    r.error
      .split('\n')
      .find((l) => l.trim() && !/^\s+at /.test(l))
      ?.trim() ?? '';
  // Exit 2 is the CLI's "bad input / not supported" path (one line naming the file and the problem),
  // which it also takes for a diverged loss: that one is a failure of the engine, not a refusal.
  row.outcome = r.code === 2 && !/training diverged/.test(message) ? 'refused' : 'failed';
  row.note = `${label}: ${r.timedOut ? `timed out after ${opts.timeoutMs / 60_000} min` : `exit ${r.code}`}${message ? `: ${message}` : ''}`;
  if (row.outcome === 'failed') log(`${label} stderr:\n${r.error.slice(-4000)}`);
  return null;
}

/** Parameter count from the shard headers the index lists (tied heads are stored once, as on the Hub). */
function countParams(dir: string): number | null {
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexPath)) return null;
  const shards = new Set(Object.values(JSON.parse(readFileSync(indexPath, 'utf8')).weight_map as Record<string, string>));
  let total = 0;
  for (const shard of shards) {
    for (const [name, t] of Object.entries(readHeader(join(dir, shard)))) {
      if (name !== '__metadata__') total += (t as { shape: number[] }).shape.reduce((a, b) => a * b, 1);
    }
  }
  return total;
}

/** Only the JSON header: the shards themselves can be gigabytes. */
function readHeader(path: string): Record<string, unknown> {
  const fd = openSync(path, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const header = Buffer.alloc(Number(len.readBigUInt64LE()));
    readSync(fd, header, 0, header.length, 8);
    return JSON.parse(header.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (v: number | undefined, digits = 4) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));

function table(rows: Row[], opts: Options): string {
  const head = [
    '| model | family | parameters | eval loss | train step 0 | train step 1 | loss after | Δ | wall s (eval / [eval, adapter limits] / train / eval+adapter) | cpu s (same) | peak RSS GiB | peak GPU MiB (bound) | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const body = rows.map((r) => {
    const delta = r.lossAfter !== undefined && r.evalLoss !== undefined ? (r.lossAfter - r.evalLoss).toExponential(2) : '–';
    const result = r.outcome === 'ok' ? 'ok' : `**${r.outcome}**${r.note ? `: ${r.note.replace(/\|/g, '\\|')}` : ''}`;
    return (
      `| ${r.model.name} | ${r.model.family} | ${r.params?.toLocaleString('en') ?? '–'} | ${fmt(r.evalLoss)} | ` +
      `${fmt(r.stepLosses[0])} | ${fmt(r.stepLosses[1])} | ${fmt(r.lossAfter)} | ${delta} | ` +
      `${r.wall.map((w) => w.toFixed(1)).join(' / ') || '–'} | ${r.cpu.map((c) => c.toFixed(1)).join(' / ') || '–'} | ${fmt(r.maxRssKb / 2 ** 20, 2)} | ` +
      `${fmt((r.peakGpuBytes ?? NaN) / 2 ** 20, 0)} (${fmt(r.params ? (2.4 * r.params) / 2 ** 20 + 256 : NaN, 0)}) | ${result} |`
    );
  });
  const setup =
    `Engine: ${opts.repo}, device limits: ${opts.deviceLimits}. LoRA rank ${opts.rank}, alpha ${ALPHA_PER_RANK * opts.rank}, lr ${opts.lr}, 2 steps on batch.json (1 × seq); ` +
    'losses to 4 places (the log has 6); Δ = loss after − eval loss.';
  return [setup, '', ...head, ...body].join('\n');
}

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function main(): Promise<void> {
  const opts = options();
  const rows: Row[] = [];
  for (const m of findModels(opts.only)) rows.push(await checkModel(m, opts));
  const md = table(rows, opts);
  console.log(md);
  if (opts.md) writeFileSync(opts.md, `${md}\n`);
  const bad = rows.filter((r) => r.outcome === 'failed' || r.outcome === 'loss did not go down' || (opts.strict && r.outcome !== 'ok'));
  if (bad.length) {
    console.error(`FAILED: ${bad.map((r) => `${r.model.name} (${r.outcome})`).join(', ')}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
