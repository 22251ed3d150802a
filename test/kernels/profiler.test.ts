import { describe, expect, it } from 'vitest';
import { add } from '../../src/kernels/elementwise';
import { matmul } from '../../src/kernels/matmul';
import { PROFILER_CAPACITY } from '../../src/gpu/profiler';
import { useGpu } from '../helpers/gpu';
import { matmulRef, randn, relErr } from '../helpers/ref';

const gpu = useGpu();

describe('kernel profiler (timestamp-query)', () => {
  it('times each kernel by name without changing results, across more dispatches than one resolve holds', async () => {
    const rt = gpu();
    const profiler = rt.enableProfiling();
    profiler.reset();
    const [M, N, K] = [70, 65, 33];
    const a = randn(M * K, 1),
      b = randn(K * N, 2);
    const ta = rt.tensor([M * K], 'a', a),
      tb = rt.tensor([K * N], 'b', b),
      tc = rt.tensor([M * N], 'c');
    matmul(rt, { a: ta, b: tb, c: tc, M, N, K });
    const small = rt.tensor([8], 'small', new Float32Array(8).fill(1));
    const sums = [rt.zeros([8], 'sum0'), rt.zeros([8], 'sum1')];
    const adds = PROFILER_CAPACITY + 6; // forces a resolve in the middle of the recording
    for (let i = 0; i < adds; i++) add(rt, sums[i % 2]!, small, sums[(i + 1) % 2]!);
    const sum = sums[adds % 2];
    expect(relErr(await rt.read(tc), matmulRef(a, b, M, N, K))).toBeLessThan(1e-5);
    expect((await rt.read(sum!))[0]).toBe(adds);
    const rows = await profiler.report();
    rt.profiler = null;
    const byName = new Map(rows.map((r) => [r.kernel, r]));
    expect(rows.filter((r) => r.kernel.startsWith('matmul')).map((r) => r.calls)).toEqual([1]);
    expect(byName.get('add')?.calls).toBe(adds);
    for (const r of rows) expect(r.totalMs).toBeGreaterThanOrEqual(0);
    expect(rows.reduce((t, r) => t + r.totalMs, 0)).toBeGreaterThan(0);
    rt.release(ta, tb, tc, small, ...sums);
  });
});
