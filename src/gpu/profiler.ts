/**
 * Per-kernel GPU time from `timestamp-query`: while a profiler is attached to the runtime, every
 * dispatch runs in a compute pass of its own whose beginning and end are timestamped. Times are
 * resolved on the GPU at each submit and read back asynchronously, so profiling never blocks
 * the recording; `report()` waits for what is still in flight. One pass per dispatch costs a
 * little, so profiled steps are slower than plain ones: compare kernels with each other.
 */
export interface KernelTime {
  /** The kernel's descriptor name, e.g. `matmul-vec4`. */
  readonly kernel: string;
  readonly calls: number;
  readonly totalMs: number;
}

/** Query pairs per resolve; a submit with more dispatches is split (the runtime flushes). */
export const PROFILER_CAPACITY = 1024;

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  /** Kernel names of the passes recorded since the last resolve, by query pair. */
  private pending: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly totals = new Map<string, { calls: number; ns: number }>();

  constructor(private readonly device: GPUDevice) {
    if (!device.features.has('timestamp-query')) {
      throw new Error("profiling needs the WebGPU feature 'timestamp-query', which this adapter does not offer");
    }
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * PROFILER_CAPACITY });
    this.resolveBuffer = device.createBuffer({
      size: 16 * PROFILER_CAPACITY,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  get full(): boolean {
    return this.pending.length === PROFILER_CAPACITY;
  }

  /** Timestamp writes for the next dispatch's own pass. */
  passFor(kernel: string): GPUComputePassTimestampWrites {
    const pair = this.pending.length;
    this.pending.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * pair, endOfPassWriteIndex: 2 * pair + 1 };
  }

  /** Records the resolve of this submit's timestamps into `encoder`; call `collect` after the submit. */
  resolve(encoder: GPUCommandEncoder): { kernels: string[]; staging: GPUBuffer } | null {
    if (this.pending.length === 0) return null;
    const kernels = this.pending;
    this.pending = [];
    const bytes = 16 * kernels.length;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * kernels.length, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, bytes);
    return { kernels, staging };
  }

  /** Reads a submitted resolve back without blocking the caller. */
  collect(resolved: { kernels: string[]; staging: GPUBuffer }): void {
    const done = resolved.staging.mapAsync(GPUMapMode.READ).then(() => {
      const stamps = new BigUint64Array(resolved.staging.getMappedRange());
      resolved.kernels.forEach((kernel, i) => {
        // resolve() staged two timestamps (begin, end) for each kernel.
        const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
        const total = this.totals.get(kernel) ?? { calls: 0, ns: 0 };
        total.calls += 1;
        total.ns += Math.max(0, ns); // timestamps may be quantised or reordered by the browser
        this.totals.set(kernel, total);
      });
      resolved.staging.unmap();
      resolved.staging.destroy();
    });
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  /** Kernel times so far, most expensive first. */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.inFlight);
    return [...this.totals].map(([kernel, t]) => ({ kernel, calls: t.calls, totalMs: t.ns / 1e6 })).sort((a, b) => b.totalMs - a.totalMs);
  }

  reset(): void {
    this.totals.clear();
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}
