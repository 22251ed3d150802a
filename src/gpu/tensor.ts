/** A float32 tensor living in one GPU buffer (row-major, starting at byte 0). */
export interface Tensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly numel: number;
  readonly label: string;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
