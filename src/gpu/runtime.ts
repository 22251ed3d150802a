import { type KernelDescriptor, type Overrides, packUniforms } from './kernel';
import { type Tensor, numelOf } from './tensor';
import { BufferPool } from './buffer-pool';
import { KernelProfiler } from './profiler';

/** Returns the WGSL text of a file in `shaders/`; the browser and Node supply their own. */
export type ShaderLibrary = (file: string) => string;

export interface GpuInfo {
  readonly description: string;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly features: readonly string[];
  /**
   * The adapter runs on the CPU (SwiftShader, llvmpipe, or one that calls itself a fallback):
   * workgroup memory is plain RAM there and barriers switch fibres, so kernels that stage
   * operands in workgroup memory lose to ones that read storage directly. It selects the
   * runtime's default KernelProfile (CPU_PROFILE) and nothing else.
   */
  readonly cpuAdapter: boolean;
}

/**
 * Every choice the runtime makes between kernel variants that compute the same thing, in one place.
 * Kernels read `rt.profile`; nothing else in them depends on the adapter or its features. The
 * default follows the adapter (`defaultProfile`); `rt.setProfile` forces any variant on any device,
 * e.g. the GPU profile on SwiftShader: the golden fixtures run on each profile of KERNEL_MATRIX
 * (test/engine/fixtures.ts), and README's "How it is tested" gives their errors per profile.
 */
export interface KernelProfile {
  /**
   * Matmul (src/kernels/matmul.ts): 'tiled' stages operands in workgroup memory, the 64×64 tile
   * (matmul.wgsl) or the 64×16 narrow one (matmul_narrow.wgsl) where N or M is 16 or less;
   * 'direct' is the barrier-free matmul_direct.wgsl, one 4×4 block of C per invocation, or
   * 16×16 where there are enough blocks to keep the threads busy (real model shapes, never the
   * fixtures'); 'direct-wide' always takes the 16×16 block.
   */
  readonly matmul: 'tiled' | 'direct' | 'direct-wide';
  /**
   * Matmul operand loads: 'vec4' wherever strides and offsets are multiples of 4 (scalar loads
   * elsewhere), 'scalar' everywhere (matmul_io_scalar.wgsl).
   */
  readonly loads: 'vec4' | 'scalar';
  /**
   * Row reductions (common_reduce.wgsl: cross-entropy, norms, attention, DoRA's row norms, update
   * statistics) by subgroup operations (common_reduce_subgroups.wgsl, swapped in by the runtime;
   * needs the device's 'subgroups' feature) instead of the workgroup-memory tree.
   */
  readonly subgroups: boolean;
  /**
   * Row kernels (attention, RMSNorm, LayerNorm): 'workgroup' runs one 64-thread workgroup per row
   * with workgroup-memory reductions; 'serial' one row block per invocation with no workgroup
   * memory and no barriers ('*_serial.wgsl'), folding their sums in the 64-thread tree's order so
   * the results are bit-identical to 'workgroup' without subgroups.
   */
  readonly rows: 'workgroup' | 'serial';
}

/**
 * The CPU adapter's default: on SwiftShader every barrier switches between the fibres that emulate a
 * workgroup's threads, so the barrier-free kernels win, and subgroups are 4 lanes emulated in software.
 */
export const CPU_PROFILE: KernelProfile = { matmul: 'direct', loads: 'vec4', subgroups: false, rows: 'serial' };

/** A GPU's default (`subgroups` only where the device has the feature). */
export const GPU_PROFILE: KernelProfile = { matmul: 'tiled', loads: 'vec4', subgroups: true, rows: 'workgroup' };

/** The profile a runtime starts with: CPU_PROFILE on a CPU adapter, else GPU_PROFILE with subgroups if the device has them. */
export function defaultProfile(info: Pick<GpuInfo, 'cpuAdapter'>, features: ReadonlySet<string>): KernelProfile {
  if (info.cpuAdapter) return CPU_PROFILE;
  return { ...GPU_PROFILE, subgroups: features.has('subgroups') };
}

export interface DispatchArgs {
  /** Tensors (or raw buffers) bound in the kernel's binding order. */
  readonly bind: readonly (Tensor | GPUBuffer)[];
  readonly uniforms?: Readonly<Record<string, number>>;
  readonly overrides?: Overrides;
  readonly workgroups: readonly [number, number?, number?];
}

/** Every uniform struct gets its own 256-byte slot (minUniformBufferOffsetAlignment). */
const UNIFORM_SLOT = 256;
const UNIFORM_ARENA_SLOTS = 2048;
const BIND_GROUP_CACHE_LIMIT = 8192;

/**
 * Shared shader files that have a subgroup variant (same functions, faster where the device has
 * the 'subgroups' feature). The runtime swaps them in here, in one place, so that no kernel
 * descriptor depends on the device; see KernelProfile.subgroups.
 */
const SUBGROUP_VARIANTS: Readonly<Record<string, string>> = {
  'common_reduce.wgsl': 'common_reduce_subgroups.wgsl',
};

/**
 * The GPU runtime shared by the page, the worker and Node: pipelines cached per device,
 * explicit bind-group layouts, pooled buffers, and a recording model where all dispatches of
 * a step go into one command encoder that is submitted once.
 */
export class GpuRuntime {
  readonly pool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniformArena: GPUBuffer;
  private readonly uniformStaging = new Uint8Array(UNIFORM_SLOT * UNIFORM_ARENA_SLOTS);
  private uniformSlots = 0;
  private readonly dummy: GPUBuffer;
  /** Counts dispatches since creation; benchmarks and tests read it. */
  dispatchCount = 0;
  /** Per-kernel GPU times while attached (`enableProfiling`); null in normal runs. */
  profiler: KernelProfiler | null = null;
  private kernelProfile: KernelProfile;

  constructor(
    /**
     * The GPU instance must stay reachable as long as the device lives: Dawn's node binding
     * destroys the instance when it is garbage-collected and then crashes in event processing.
     */
    readonly instance: GPU,
    readonly device: GPUDevice,
    private readonly shaders: ShaderLibrary,
    readonly info: GpuInfo,
  ) {
    this.pool = new BufferPool(device);
    this.uniformArena = device.createBuffer({
      label: 'uniform-arena',
      size: this.uniformStaging.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.dummy = this.pool.acquire(16);
    this.kernelProfile = defaultProfile(info, device.features);
  }

  /** The kernel variants in use (see KernelProfile); `defaultProfile` until set. */
  get profile(): KernelProfile {
    return this.kernelProfile;
  }

  /**
   * Forces kernel variants from the next dispatch on (each variant's pipelines are cached apart);
   * fields left out keep their value. Returns the profile it replaced, to restore. Subgroups
   * cannot be turned on without the device's feature.
   */
  setProfile(p: Partial<KernelProfile>): KernelProfile {
    const previous = this.kernelProfile;
    const next = { ...previous, ...p };
    if (next.subgroups && !this.device.features.has('subgroups')) throw new Error("this device lacks the 'subgroups' feature");
    this.kernelProfile = next;
    return previous;
  }

  /** The shader files that make up a kernel's module on this runtime, in order. */
  moduleFiles(kernel: Pick<KernelDescriptor, 'shaders'>): string[] {
    return kernel.shaders.map((f) => (this.kernelProfile.subgroups && SUBGROUP_VARIANTS[f]) || f);
  }

  /** A 16-byte buffer for optional bindings a kernel ignores (flags say so). */
  get unused(): GPUBuffer {
    return this.dummy;
  }

  /** Times every following dispatch by timestamp-query (throws where the adapter lacks it). */
  enableProfiling(): KernelProfiler {
    this.flush();
    this.profiler ??= new KernelProfiler(this.device);
    return this.profiler;
  }

  /**
   * Runs `job` with profiling detached, so that only the work around it (training steps) is
   * timed, not validation or statistics; what was recorded before is submitted first.
   */
  async unprofiled<T>(job: () => Promise<T>): Promise<T> {
    const profiler = this.profiler;
    if (!profiler) return job();
    this.flush();
    this.profiler = null;
    try {
      return await job();
    } finally {
      this.flush();
      this.profiler = profiler;
    }
  }

  // ---- tensors ---------------------------------------------------------------------------

  tensor(shape: readonly number[], label: string, data?: Float32Array): Tensor {
    const numel = numelOf(shape);
    if (data && data.length !== numel) {
      throw new Error(`tensor ${label}: ${data.length} values for shape [${shape.join(', ')}]`);
    }
    const buffer = this.pool.acquire(numel * 4);
    const t: Tensor = { buffer, shape: [...shape], numel, label };
    if (data) this.write(t, data);
    return t;
  }

  /** Integer data (token ids, targets, index lists) in a tensor of as many 4-byte elements. */
  intTensor(data: Uint32Array | Int32Array, label: string): Tensor {
    const t = this.tensor([Math.max(1, data.length)], label);
    this.write(t, data);
    return t;
  }

  /**
   * Queue writes run before any command buffer submitted after them, so work recorded but not
   * yet submitted must go first: a pooled buffer may still be scratch space for that work.
   */
  private write(t: Tensor, data: Float32Array | Uint32Array | Int32Array): void {
    this.flush();
    this.device.queue.writeBuffer(t.buffer, 0, data as Float32Array<ArrayBuffer>);
  }

  /** A tensor filled with zeros (cleared in the current recording, so ordered with dispatches). */
  zeros(shape: readonly number[], label: string): Tensor {
    const t = this.tensor(shape, label);
    this.clear(t);
    return t;
  }

  upload(t: Tensor, data: Float32Array): void {
    if (data.length !== t.numel) throw new Error(`upload ${t.label}: ${data.length} values for ${t.numel}`);
    this.write(t, data);
  }

  release(...tensors: (Tensor | null | undefined)[]): void {
    for (const t of tensors) if (t) this.pool.release(t.buffer);
  }

  // ---- recording -------------------------------------------------------------------------

  private currentEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private currentPass(): GPUComputePassEncoder {
    this.pass ??= this.currentEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  dispatch(kernel: KernelDescriptor, args: DispatchArgs): void {
    if (args.bind.length !== kernel.bindings.length) {
      throw new Error(`kernel ${kernel.name}: ${args.bind.length} buffers for ${kernel.bindings.length} bindings`);
    }
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit) {
      throw new Error(`kernel ${kernel.name}: grid ${x}×${y}×${z} exceeds ${limit} per dimension`);
    }
    if (this.uniformSlots === UNIFORM_ARENA_SLOTS) this.flush();
    const pipeline = this.pipeline(kernel, args.overrides ?? {});
    const slot = kernel.uniforms.length > 0 ? this.writeUniforms(kernel, args.uniforms ?? {}) : -1;
    const buffers = args.bind.map((b) => ('buffer' in b ? b.buffer : b));
    const bindGroup = this.bindGroup(kernel, buffers, slot);
    const pass = this.profiler ? this.profiledPass(kernel.name) : this.currentPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.endPass();
    this.dispatchCount++;
  }

  /** A pass of the dispatch's own, timestamped at its beginning and end. */
  private profiledPass(kernel: string): GPUComputePassEncoder {
    if (this.profiler!.full) this.flush();
    this.endPass();
    this.pass = this.currentEncoder().beginComputePass({ timestampWrites: this.profiler!.passFor(kernel) });
    return this.pass;
  }

  /** dst[dstOffset …] = src[srcOffset …], `count` floats (all of src by default), in the recorded order. */
  copy(src: Tensor, dst: Tensor, count = src.numel, srcOffset = 0, dstOffset = 0): void {
    this.endPass();
    this.currentEncoder().copyBufferToBuffer(src.buffer, srcOffset * 4, dst.buffer, dstOffset * 4, count * 4);
  }

  /** Zeroes `count` elements of t starting at element `offset`. */
  clearRange(t: Tensor, offset: number, count: number): void {
    this.endPass();
    this.currentEncoder().clearBuffer(t.buffer, offset * 4, count * 4);
  }

  clear(t: Tensor): void {
    this.endPass();
    this.currentEncoder().clearBuffer(t.buffer, 0, Math.ceil((t.numel * 4) / 4) * 4);
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.uniformSlots > 0) {
      this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformStaging, 0, this.uniformSlots * UNIFORM_SLOT);
    }
    const timestamps = this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    if (timestamps) this.profiler!.collect(timestamps);
    this.encoder = null;
    this.uniformSlots = 0;
  }

  /** Reads a tensor back to the CPU (submitting pending work first). */
  async read(t: Tensor, count = t.numel): Promise<Float32Array> {
    const bytes = count * 4;
    const staging = this.device.createBuffer({
      size: Math.max(4, bytes),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.endPass();
    this.currentEncoder().copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Waits until the GPU finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  // ---- caches ----------------------------------------------------------------------------

  private writeUniforms(kernel: KernelDescriptor, values: Readonly<Record<string, number>>): number {
    const bytes = new Uint8Array(packUniforms(kernel, values));
    const slot = this.uniformSlots++;
    this.uniformStaging.set(bytes, slot * UNIFORM_SLOT);
    return slot;
  }

  /**
   * The pipeline key holds everything that changes the compiled code: the files actually used
   * (so a subgroup variant gets its own pipeline) and the overrides.
   */
  private pipeline(kernel: KernelDescriptor, overrides: Overrides): GPUComputePipeline {
    const overrideKey = Object.keys(overrides)
      .sort()
      .map((k) => `${k}=${Number(overrides[k])}`)
      .join(',');
    const files = this.moduleFiles(kernel);
    const key = `${kernel.name}|${files.join('+')}|${kernel.entryPoint}|${overrideKey}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      // A directive must precede every declaration, so it goes here rather than in the file.
      const swapped = files.some((f, i) => f !== kernel.shaders[i]);
      const code = (swapped ? 'enable subgroups;\n' : '') + files.map((f) => this.shaders(f)).join('\n');
      const module = this.device.createShaderModule({ label: kernel.name, code });
      const constants: Record<string, number> = {};
      for (const [k, v] of Object.entries(overrides)) constants[k] = Number(v);
      pipeline = this.device.createComputePipeline({
        label: kernel.name,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layout(kernel)] }),
        compute: { module, entryPoint: kernel.entryPoint, constants },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  private layoutKey(kernel: KernelDescriptor): string {
    return kernel.bindings.join(',') + (kernel.uniforms.length > 0 ? ',uniform' : '');
  }

  private layout(kernel: KernelDescriptor): GPUBindGroupLayout {
    const key = this.layoutKey(kernel);
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = kernel.bindings.map((kind, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: kind === 'read' ? 'read-only-storage' : 'storage' },
      }));
      if (kernel.uniforms.length > 0) {
        entries.push({ binding: kernel.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      }
      layout = this.device.createBindGroupLayout({ label: key, entries });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  private bindGroup(kernel: KernelDescriptor, buffers: GPUBuffer[], slot: number): GPUBindGroup {
    const key = `${this.layoutKey(kernel)}|${buffers.map((b) => this.bufferId(b)).join(',')}|${slot}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, i) => ({ binding: i, resource: { buffer } }));
      if (slot >= 0) {
        entries.push({
          binding: buffers.length,
          resource: { buffer: this.uniformArena, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT },
        });
      }
      group = this.device.createBindGroup({ layout: this.layout(kernel), entries });
      if (this.bindGroups.size >= BIND_GROUP_CACHE_LIMIT) this.bindGroups.clear();
      this.bindGroups.set(key, group);
    }
    return group;
  }

  destroy(): void {
    this.flush();
    this.profiler?.destroy();
    this.pool.destroyAll();
    this.uniformArena.destroy();
    this.device.destroy();
  }
}

/** Splits `count` workgroups over x and y so neither exceeds the per-dimension limit. */
export function grid(count: number, maxPerDim = 65535): [number, number] {
  if (count <= maxPerDim) return [Math.max(count, 0), 1];
  const y = Math.ceil(count / maxPerDim);
  return [Math.ceil(count / y), y];
}
