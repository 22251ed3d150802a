/**
 * The bytes of a one-node ONNX model C [M, N] = A [M, K] · B [K, N], written with a tiny
 * protobuf encoder (the few fields of onnx.proto a graph of one MatMul node needs), so the
 * benchmark downloads nothing. MatMul has no transpose attributes: for the transposed products
 * of the backward pass ORT gets its operands already in its own layout, the same M, N and K.
 */

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const ONNX_FLOAT = 1;
const IR_VERSION = 8;
const OPSET = 13;

/** Appends protobuf fields to a growing byte list. */
class ProtoWriter {
  private readonly bytes: number[] = [];

  private varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  bytesField(field: number, data: Uint8Array): this {
    this.key(field, WIRE_BYTES);
    this.varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  string(field: number, text: string): this {
    return this.bytesField(field, new TextEncoder().encode(text));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** ValueInfoProto of a float tensor: name (1), type (2) → tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1). */
function floatValueInfo(w: ProtoWriter, name: string, dims: readonly number[]): void {
  w.string(1, name).message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ONNX_FLOAT);
      tensor.message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => dim.int(1, d));
      });
    }),
  );
}

export interface OnnxMatmulShape {
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** ModelProto: ir_version (1), producer_name (2), graph (7), opset_import (8). */
export function onnxMatmulModel(s: OnnxMatmulShape): Uint8Array {
  return new ProtoWriter()
    .int(1, IR_VERSION)
    .string(2, 'webgpu-finetune-studio bench')
    .message(7, (graph) => {
      // NodeProto: input (1), output (2), name (3), op_type (4)
      graph.message(1, (node) => node.string(1, 'A').string(1, 'B').string(2, 'C').string(3, 'product').string(4, 'MatMul'));
      graph.string(2, 'matmul');
      graph.message(11, (v) => floatValueInfo(v, 'A', [s.M, s.K]));
      graph.message(11, (v) => floatValueInfo(v, 'B', [s.K, s.N]));
      graph.message(12, (v) => floatValueInfo(v, 'C', [s.M, s.N]));
    })
    .message(8, (opset) => opset.string(1, '').int(2, OPSET))
    .finish();
}
