import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { ropeTables } from '../kernels/rope';

/**
 * RoPE cos/sin tables on the GPU for one set of inverse frequencies, grown on demand. Building
 * them for max_position_embeddings at load would cost 32 MiB for Llama 3.2's 131,072 positions
 * (and refuse a config claiming 2⁵³), while a run only ever reads the positions it uses.
 */
export class RopeTable {
  private tables: { cos: Tensor; sin: Tensor } | null = null;
  private length = 0;

  constructor(
    private readonly rt: GpuRuntime,
    private readonly invFreq: Float64Array,
    private readonly maxPositions: number,
    private readonly label: string,
  ) {}

  /** Makes the tables cover positions [0, n). Call before recording a pass: growing replaces the buffers. */
  ensure(n: number): void {
    if (n <= this.length) return;
    if (n > this.maxPositions) throw new Error(`position ${n - 1} is past the model's ${this.maxPositions} positions`);
    // Doubling keeps regrowth rare while a generation lengthens one token at a time.
    const length = Math.min(this.maxPositions, Math.max(n, 2 * this.length, 256));
    const { cos, sin } = ropeTables(length, this.invFreq);
    // Work recorded but not yet submitted may still read the old tables: submit it before their
    // buffers go back to the pool, where a queue write for the next tensor could overtake it.
    this.rt.flush();
    this.release();
    this.tables = {
      cos: this.rt.tensor([cos.length], `${this.label}.cos`, cos),
      sin: this.rt.tensor([sin.length], `${this.label}.sin`, sin),
    };
    this.length = length;
  }

  get cos(): Tensor {
    return this.current().cos;
  }

  get sin(): Tensor {
    return this.current().sin;
  }

  private current(): { cos: Tensor; sin: Tensor } {
    if (!this.tables) throw new Error(`${this.label}: RoPE tables used before ensure()`);
    return this.tables;
  }

  release(): void {
    if (this.tables) this.rt.release(this.tables.cos, this.tables.sin);
    this.tables = null;
    this.length = 0;
  }
}
