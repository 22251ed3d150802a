/**
 * The bench page: runs the four sections of issue 6 on this page's WebGPU adapter and leaves
 * the outcome in window.__benchResult for bench/run.ts. A failing section reports its error and
 * the others still run.
 */
import { createBrowserRuntime } from '../../src/gpu/browser';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { errorText, type BenchSizes, type PageOutcome, type PageResult, type SectionResult } from '../results';
import { adapterSection } from './adapter-section';
import { matmulSection } from './matmul-section';
import { memorySection } from './memory-section';
import { ALL_SECTIONS, benchSizes, parseOptions, type SectionName } from './options';
import { profileSection } from './profile-section';
import { stepSection } from './step-section';

declare global {
  interface Window {
    __benchResult?: PageOutcome;
  }
}

function log(line: string): void {
  console.log(`[bench] ${line}`);
  document.getElementById('progress')?.append(`${line}\n`);
}

async function section<T>(name: string, run: () => Promise<T>): Promise<SectionResult<T>> {
  const t0 = performance.now();
  try {
    return await run();
  } catch (e) {
    log(`${name} failed: ${errorText(e)}`);
    return { error: errorText(e) };
  } finally {
    log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** The adapter as the page sees it (GPUAdapter.info; requestAdapterInfo in older Chromium). */
async function describeAdapter(): Promise<Record<string, string>> {
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return {};
  const legacy = adapter as GPUAdapter & { requestAdapterInfo?: () => Promise<GPUAdapterInfo> };
  const info = adapter.info ?? (await legacy.requestAdapterInfo?.());
  const fields = ['vendor', 'architecture', 'device', 'description'] as const;
  return Object.fromEntries(fields.map((f) => [f, info?.[f] ?? '']));
}

type Sections = Pick<PageResult, SectionName>;

const RUNNERS: Readonly<Record<SectionName, (rt: GpuRuntime, sizes: BenchSizes, log: (line: string) => void) => Promise<object>>> = {
  matmul: matmulSection,
  step: stepSection,
  adapters: adapterSection,
  memory: memorySection,
  profile: profileSection,
};

async function runSections(rt: GpuRuntime, sizes: BenchSizes, only: readonly SectionName[]): Promise<Sections> {
  const out: Record<string, unknown> = {};
  for (const name of ALL_SECTIONS) {
    if (only.includes(name)) out[name] = await section(name, () => RUNNERS[name](rt, sizes, log));
  }
  return out as Sections;
}

async function main(): Promise<PageResult> {
  const t0 = performance.now();
  const options = parseOptions(location.search);
  const sizes = benchSizes(options);
  const adapterInfo = await describeAdapter();
  const rt = await createBrowserRuntime();
  try {
    const sections = await runSections(rt, sizes, options.only);
    const optionText = Object.fromEntries(Object.entries(options).map(([k, v]) => [k, String(v)]));
    return { adapterInfo, options: optionText, sizes, ...sections, seconds: (performance.now() - t0) / 1000 };
  } finally {
    rt.destroy();
  }
}

main().then(
  (result) => {
    window.__benchResult = { ok: true, result };
  },
  (e: unknown) => {
    window.__benchResult = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  },
);
