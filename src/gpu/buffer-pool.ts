/**
 * Reuses storage buffers by exact (256-byte rounded) size: a training step asks for the same
 * activation shapes every time, so after the first step no buffer is created at all.
 */
const ALIGN = 256;

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  /** Bytes currently handed out and the most ever handed out at once. */
  bytesInUse = 0;
  peakBytes = 0;
  /** Bytes of every buffer the pool created and has not destroyed, handed out or idle: its GPU footprint. */
  allocatedBytes = 0;

  constructor(private readonly device: GPUDevice) {}

  static roundedSize(bytes: number): number {
    return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  }

  acquire(bytes: number): GPUBuffer {
    const size = BufferPool.roundedSize(bytes);
    const maxSize = this.device.limits.maxStorageBufferBindingSize;
    if (size > maxSize) {
      throw new Error(`a buffer of ${size} bytes exceeds this device's storage binding limit of ${maxSize} bytes`);
    }
    let buffer = this.free.get(size)?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.allocatedBytes += size;
    }
    this.live.add(buffer);
    this.bytesInUse += size;
    this.peakBytes = Math.max(this.peakBytes, this.bytesInUse);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) return;
    this.bytesInUse -= buffer.size;
    const list = this.free.get(buffer.size) ?? [];
    list.push(buffer);
    this.free.set(buffer.size, list);
  }

  /** Frees idle buffers (e.g. after a model is closed). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  destroyAll(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.bytesInUse = 0;
    this.allocatedBytes = 0;
  }
}
