import { describe, expect, it, vi } from 'vitest';
import { BufferPool } from '../../src/gpu/buffer-pool';
import { defineKernel, packUniforms } from '../../src/gpu/kernel';
import { CPU_PROFILE, defaultProfile, GPU_PROFILE, grid, type KernelProfile } from '../../src/gpu/runtime';
import type { Tensor } from '../../src/gpu/tensor';
import { isCpuAdapter } from '../../src/gpu/device';
import { add } from '../../src/kernels/elementwise';
import { directWorkgroups, matmul } from '../../src/kernels/matmul';
import { reduceSum } from '../../src/kernels/loss';
import { rmsnormBackward, rmsnormForward } from '../../src/kernels/norms';
import { checked, useGpu } from '../helpers/gpu';
import { randn, relErr } from '../helpers/ref';
import { rmsnormFwdRef } from '../helpers/ref-ops';

const gpu = useGpu();

/** The add kernel described here directly, to drive rt.dispatch by hand. */
const addByHand = defineKernel({
  name: 'add-by-hand',
  shaders: ['common_grid.wgsl', 'add.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [['n', 'u32']],
});

describe('pipeline cache', () => {
  it('compiles one pipeline per kernel and override set, whatever the shapes', async () => {
    const rt = gpu();
    const spy = vi.spyOn(rt.device, 'createComputePipeline');
    try {
      for (const n of [10, 300, 1]) {
        const ta = rt.tensor([n], 'a', randn(n, 1));
        const tb = rt.tensor([n], 'b', randn(n, 2));
        const tc = rt.tensor([n], 'c');
        await checked(rt, () => add(rt, ta, tb, tc));
        rt.release(ta, tb, tc);
      }
      expect(spy).toHaveBeenCalledTimes(1);

      // rmsnorm forward, backward without and with the residual (an override): three more.
      for (const [T, C] of [
        [2, 5],
        [3, 70],
      ] as const) {
        const tx = rt.tensor([T, C], 'x', randn(T * C, 3));
        const tw = rt.tensor([C], 'w', randn(C, 4));
        const ty = rt.tensor([T, C], 'y');
        const tr = rt.tensor([T], 'r');
        const tdx = rt.tensor([T, C], 'dx');
        await checked(rt, () => {
          rmsnormForward(rt, tx, tw, ty, tr, T, C, 1e-5);
          rmsnormBackward(rt, tx, tw, tr, ty, tdx, T, C);
          rmsnormBackward(rt, tx, tw, tr, ty, tdx, T, C, tx);
        });
        rt.release(tx, tw, ty, tr, tdx);
      }
      expect(spy).toHaveBeenCalledTimes(4);
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps the subgroup variant of common_reduce.wgsl and the fallback apart', async (ctx) => {
    const rt = gpu();
    const byDefault = rt.profile;
    expect(byDefault.subgroups).toBe(rt.device.features.has('subgroups') && !rt.info.cpuAdapter);
    if (!rt.device.features.has('subgroups')) {
      expect(() => rt.setProfile({ subgroups: true })).toThrow(/subgroups/);
      ctx.skip("the device lacks 'subgroups'");
    }
    const kernel = defineKernel({
      name: 'row-sum-squares-by-hand',
      shaders: ['common_reduce.wgsl', 'row_sum_squares.wgsl'],
      entryPoint: 'main',
      bindings: ['read', 'storage'],
      uniforms: [
        ['out_features', 'u32'],
        ['in_features', 'u32'],
      ],
    });
    const modules = vi.spyOn(rt.device, 'createShaderModule');
    const w = rt.tensor([2, 3], 'w', new Float32Array([1, 2, 3, 4, 5, 6]));
    const out = rt.tensor([2], 'out');
    try {
      for (const on of [true, false, true, false]) {
        rt.setProfile({ subgroups: on });
        expect(rt.moduleFiles(kernel)[0]).toBe(on ? 'common_reduce_subgroups.wgsl' : 'common_reduce.wgsl');
        await checked(rt, () => rt.dispatch(kernel, { bind: [w, out], uniforms: { out_features: 2, in_features: 3 }, workgroups: [2] }));
        expect(Array.from(await rt.read(out))).toEqual([14, 77]);
      }
      // One module per variant; only the subgroup one enables the extension, as its first line.
      const codes = modules.mock.calls.map(([d]) => d.code);
      expect(codes).toHaveLength(2);
      expect(codes[0]).toMatch(/^enable subgroups;\n/);
      expect(codes[0]).toContain('subgroupAdd');
      expect(codes[1]).not.toContain('subgroup');
    } finally {
      modules.mockRestore();
      rt.setProfile(byDefault);
      rt.release(w, out);
    }
  });
});

describe('buffer pool', () => {
  it('returns a released buffer for the same rounded size and tracks bytes in use', () => {
    const rt = gpu();
    const pool = rt.pool;
    const before = pool.bytesInUse;
    const a = pool.acquire(1000);
    expect(a.size).toBe(1024);
    expect(pool.bytesInUse).toBe(before + 1024);
    const b = pool.acquire(1000);
    expect(b).not.toBe(a);
    expect(pool.bytesInUse).toBe(before + 2048);
    pool.release(a);
    expect(pool.bytesInUse).toBe(before + 1024);
    // 1001..1024 bytes round to the same 1024-byte buffer.
    const c = pool.acquire(1010);
    expect(c).toBe(a);
    // Releasing twice is harmless and does not double count.
    pool.release(b);
    pool.release(b);
    expect(pool.bytesInUse).toBe(before + 1024);
    // A different rounded size does not reuse it.
    const d = pool.acquire(2000);
    expect(d).not.toBe(b);
    expect(d.size).toBe(2048);
    expect(pool.peakBytes).toBeGreaterThanOrEqual(before + 1024 + 2048);
    pool.release(c);
    pool.release(d);
    expect(pool.bytesInUse).toBe(before);
    expect(BufferPool.roundedSize(1)).toBe(256);
    expect(BufferPool.roundedSize(256)).toBe(256);
    expect(BufferPool.roundedSize(257)).toBe(512);
  });

  it('counts the bytes of the buffers it created until they are destroyed', () => {
    const pool = new BufferPool(gpu().device);
    const a = pool.acquire(1000);
    const b = pool.acquire(2000);
    expect(pool.allocatedBytes).toBe(1024 + 2048);
    // A released buffer stays allocated, and reusing it allocates nothing.
    pool.release(a);
    expect(pool.allocatedBytes).toBe(1024 + 2048);
    expect(pool.acquire(1000)).toBe(a);
    expect(pool.allocatedBytes).toBe(1024 + 2048);
    // trim destroys idle buffers only.
    pool.release(b);
    pool.trim();
    expect(pool.allocatedBytes).toBe(1024);
    pool.destroyAll();
    expect(pool.allocatedBytes).toBe(0);
  });

  it('tensors come from the pool', () => {
    const rt = gpu();
    const t = rt.tensor([70], 't');
    const buffer = t.buffer;
    rt.release(t);
    const u = rt.tensor([100], 'u'); // 280 and 400 bytes both round to 512
    expect(u.buffer).toBe(buffer);
    rt.release(u);
  });
});

describe('uniform arena', () => {
  it('more than 2048 dispatches in one recording keep their own uniforms', async () => {
    const rt = gpu();
    const count = 2100;
    const n = 300;
    const x = randn(n, 5);
    const tx = rt.tensor([n], 'x', x);
    const out = rt.tensor([count], 'out');
    const submit = vi.spyOn(rt.device.queue, 'submit');
    try {
      await checked(rt, () => {
        for (let i = 0; i < count; i++) reduceSum(rt, tx, out, n, i + 1, i);
      });
      // The arena holds 2048 slots: the runtime submitted once when it filled up.
      expect(submit.mock.calls.length).toBeGreaterThanOrEqual(2);
    } finally {
      submit.mockRestore();
    }
    let s = 0;
    for (const v of x) s += v;
    const got = await rt.read(out);
    const ref = Float64Array.from({ length: count }, (_, i) => (i + 1) * s);
    expect(relErr(got, ref)).toBeLessThan(1e-5);
    rt.release(tx, out);
  });
});

describe('grid', () => {
  it('splits counts over 65535 workgroups into x and y', () => {
    expect(grid(0)).toEqual([0, 1]);
    expect(grid(1)).toEqual([1, 1]);
    expect(grid(65535)).toEqual([65535, 1]);
    expect(grid(65536)).toEqual([32768, 2]);
    for (const count of [65536, 65537, 131070, 131071, 200000, 1 << 24, 4_000_000_000]) {
      const [x, y] = grid(count);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(count);
      // No more than one partly used row of workgroups.
      expect(x * (y - 1)).toBeLessThan(count);
    }
    expect(grid(10, 4)).toEqual([4, 3]);
  });

  it('a 2-D grid covers a 1-D problem (linearIndex spills into y)', async () => {
    const rt = gpu();
    const n = 1000;
    const a = randn(n, 1);
    const b = randn(n, 2);
    const ta = rt.tensor([n], 'a', a);
    const tb = rt.tensor([n], 'b', b);
    const tc = rt.tensor([n], 'c', new Float32Array(n).fill(Number.NaN));
    // 4 workgroups of 256 as 2×2 instead of 4×1.
    await checked(rt, () => rt.dispatch(addByHand, { bind: [ta, tb, tc], uniforms: { n }, workgroups: [2, 2] }));
    expect(
      relErr(
        await rt.read(tc),
        a.map((v, i) => v + b[i]!),
      ),
    ).toBeLessThan(1e-6);
    rt.release(ta, tb, tc);
  });

  it('a row kernel with more than 65535 rows reaches every row', async () => {
    const rt = gpu();
    const T = 65535 + 700;
    const C = 2;
    const x = randn(T * C, 9);
    const w = randn(C, 10);
    const tx = rt.tensor([T, C], 'x', x);
    const tw = rt.tensor([C], 'w', w);
    const ty = rt.tensor([T, C], 'y', new Float32Array(T * C).fill(Number.NaN));
    const tr = rt.tensor([T], 'rstd');
    await checked(rt, () => rmsnormForward(rt, tx, tw, ty, tr, T, C, 1e-5));
    const ref = rmsnormFwdRef(x, w, T, C, 1e-5);
    expect(relErr(await rt.read(ty), ref.y)).toBeLessThan(1e-5);
    rt.release(tx, tw, ty, tr);
  });

  it('dispatch refuses a grid over the per-dimension limit', () => {
    const rt = gpu();
    const t = rt.tensor([4], 't');
    const limit = rt.device.limits.maxComputeWorkgroupsPerDimension;
    expect(() => rt.dispatch(addByHand, { bind: [t, t, t], uniforms: { n: 4 }, workgroups: [limit + 1] })).toThrow(/exceeds/);
    rt.release(t);
  });
});

describe('kernel descriptors', () => {
  const k = defineKernel({
    name: 'packing',
    shaders: [],
    entryPoint: 'main',
    bindings: [],
    uniforms: [
      ['a', 'u32'],
      ['b', 'i32'],
      ['c', 'f32'],
      ['d', 'u32'],
      ['e', 'f32'],
    ],
  });

  it('packUniforms lays fields out in order with their types, padded to 16 bytes', () => {
    const bytes = packUniforms(k, { a: 7, b: -3, c: 0.5, d: 4_000_000_000, e: -2.25 });
    expect(bytes.byteLength).toBe(32);
    const view = new DataView(bytes);
    expect(view.getUint32(0, true)).toBe(7);
    expect(view.getInt32(4, true)).toBe(-3);
    expect(view.getFloat32(8, true)).toBe(0.5);
    expect(view.getUint32(12, true)).toBe(4_000_000_000);
    expect(view.getFloat32(16, true)).toBe(-2.25);
  });

  it('packUniforms throws on a missing or NaN uniform', () => {
    expect(() => packUniforms(k, { a: 1, b: 2, c: 3, d: 4 })).toThrow(/'e' is missing/);
    expect(() => packUniforms(k, { a: 1, b: 2, c: Number.NaN, d: 4, e: 5 })).toThrow(/'c' is missing/);
  });

  it('dispatch throws on a missing uniform', () => {
    const rt = gpu();
    const t = rt.tensor([4], 't');
    expect(() => rt.dispatch(addByHand, { bind: [t, t, t], uniforms: {}, workgroups: [1] })).toThrow(/'n' is missing/);
    rt.release(t);
  });

  it('dispatch throws on a wrong number of bindings', () => {
    const rt = gpu();
    const a = rt.tensor([4], 'a');
    const b = rt.tensor([4], 'b');
    expect(() => rt.dispatch(addByHand, { bind: [a, b], uniforms: { n: 4 }, workgroups: [1] })).toThrow(/2 buffers for 3 bindings/);
    expect(() => rt.dispatch(addByHand, { bind: [a, b, a, b], uniforms: { n: 4 }, workgroups: [1] })).toThrow(/4 buffers/);
    rt.release(a, b);
  });
});

describe('recording order', () => {
  it('upload after a recorded dispatch does not overtake it', async () => {
    const rt = gpu();
    const n = 5;
    const a = new Float32Array([1, 2, 3, 4, 5]);
    const ta = rt.tensor([n], 'a', a);
    const tb = rt.tensor([n], 'b', new Float32Array(n).fill(10));
    const tc = rt.tensor([n], 'c');
    await checked(rt, () => {
      add(rt, ta, tb, tc);
      rt.upload(ta, new Float32Array(n).fill(100));
    });
    expect(Array.from(await rt.read(tc))).toEqual([11, 12, 13, 14, 15]);
    expect(Array.from(await rt.read(ta))).toEqual([100, 100, 100, 100, 100]);
    rt.release(ta, tb, tc);
  });

  it('zeros clears a reused buffer within the recording', async () => {
    const rt = gpu();
    const t = rt.tensor([8], 'dirty', new Float32Array(8).fill(3));
    rt.release(t);
    const z = rt.zeros([8], 'z');
    expect(z.buffer).toBe(t.buffer);
    expect(Array.from(await rt.read(z))).toEqual(new Array(8).fill(0));
    rt.release(z);
  });
});

describe('CPU adapters', () => {
  const adapter = (info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }) => ({ info }) as unknown as GPUAdapter;

  it('are told apart from GPUs by the names they report, or by calling themselves a fallback', () => {
    expect(isCpuAdapter(adapter({ vendor: 'google', architecture: 'swiftshader' }))).toBe(true);
    expect(isCpuAdapter(adapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' }))).toBe(true);
    expect(isCpuAdapter(adapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver (WARP)' }))).toBe(true);
    expect(isCpuAdapter(adapter({ vendor: 'x', isFallbackAdapter: true }))).toBe(true);
    expect(isCpuAdapter(adapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }))).toBe(false);
    expect(isCpuAdapter(adapter({ vendor: 'apple', architecture: 'metal-3' }))).toBe(false);
    expect(isCpuAdapter(adapter({}))).toBe(false);
  });

  it('get the direct matmul, the workgroup-memory reductions and the serial row kernels by default', (ctx) => {
    const rt = gpu();
    if (!/swiftshader/i.test(rt.info.description)) ctx.skip('not on SwiftShader');
    expect(rt.info.cpuAdapter).toBe(true);
    expect(rt.profile).toEqual(CPU_PROFILE);
    expect(rt.profile).toEqual({ matmul: 'direct', loads: 'vec4', subgroups: false, rows: 'serial' });
  });

  it('the direct matmul deals its 4×4 blocks out 64 per workgroup, in two dimensions past 65535 workgroups', () => {
    expect(directWorkgroups(1, 1)).toEqual([1, 1]);
    expect(directWorkgroups(512, 8)).toEqual([4, 1]); // 128 × 2 blocks
    expect(directWorkgroups(512, 512, true)).toEqual([16, 1]); // 32 × 32 blocks of 16×16
    expect(directWorkgroups(4096, 4096)).toEqual([16384, 1]);
    const [x, y] = directWorkgroups(65536, 65536);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y * 64).toBeGreaterThanOrEqual((65536 / 4) ** 2);
  });
});

describe('kernel profile', () => {
  it('defaults to the CPU profile on a CPU adapter and to the GPU one, with subgroups where the device has them, elsewhere', () => {
    expect(defaultProfile({ cpuAdapter: true }, new Set(['subgroups']))).toEqual(CPU_PROFILE);
    expect(defaultProfile({ cpuAdapter: false }, new Set(['subgroups']))).toEqual(GPU_PROFILE);
    expect(defaultProfile({ cpuAdapter: false }, new Set())).toEqual({ ...GPU_PROFILE, subgroups: false });
  });

  it('setProfile changes the fields given, returns the profile it replaced, and refuses subgroups without the feature', () => {
    const rt = gpu();
    const before = rt.profile;
    try {
      expect(rt.setProfile({ rows: 'workgroup' })).toEqual(before);
      expect(rt.profile).toEqual({ ...before, rows: 'workgroup' });
      if (!rt.device.features.has('subgroups')) expect(() => rt.setProfile({ subgroups: true })).toThrow(/subgroups/);
      expect(rt.profile.subgroups).toBe(before.subgroups);
    } finally {
      rt.setProfile(before);
    }
  });

  it("matmul's 'auto' kernel follows the profile, and every choice computes the same product", async () => {
    const rt = gpu();
    const [M, N, K] = [24, 40, 12];
    const a = rt.tensor([M, K], 'a', randn(M * K, 1));
    const b = rt.tensor([K, N], 'b', randn(K * N, 2));
    const narrowB = rt.tensor([K, 8], 'b8', randn(K * 8, 3));
    const before = rt.profile;
    const spy = vi.spyOn(rt, 'dispatch');
    const run = async (profile: Partial<KernelProfile>, n: number, bt: Tensor) => {
      rt.setProfile(profile);
      const c = rt.tensor([M, n], 'c');
      await checked(rt, () => matmul(rt, { a, b: bt, c, M, N: n, K }));
      const [kernel, args] = spy.mock.lastCall!;
      const out = await rt.read(c);
      rt.release(c);
      return { name: kernel.name, wide: args.overrides?.WIDE, out };
    };
    try {
      const direct = await run({ matmul: 'direct', loads: 'vec4' }, N, b);
      expect([direct.name, direct.wide]).toEqual(['matmul-direct-vec4', false]);
      const wide = await run({ matmul: 'direct-wide' }, N, b);
      expect([wide.name, wide.wide]).toEqual(['matmul-direct-vec4', true]);
      const square = await run({ matmul: 'tiled' }, N, b);
      expect(square.name).toBe('matmul-vec4');
      const scalar = await run({ matmul: 'tiled', loads: 'scalar' }, N, b);
      expect(scalar.name).toBe('matmul-scalar');
      for (const r of [wide, square, scalar]) expect(relErr(r.out, direct.out)).toBeLessThan(1e-6);
      expect((await run({ matmul: 'tiled', loads: 'vec4' }, 8, narrowB)).name).toBe('matmul-narrow-vec4');
      expect((await run({ matmul: 'direct', loads: 'scalar' }, 8, narrowB)).name).toBe('matmul-direct-scalar');
    } finally {
      spy.mockRestore();
      rt.setProfile(before);
      rt.release(a, b, narrowB);
    }
  });
});
