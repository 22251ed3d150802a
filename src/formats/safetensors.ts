/**
 * safetensors reader/writer (https://github.com/huggingface/safetensors):
 *   [u64 little-endian header length N][N bytes of UTF-8 JSON header][raw tensor bytes]
 * The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the start of the raw bytes) plus an optional "__metadata__" string→string map.
 *
 * The engine computes in f32, so every tensor is handed out as a Float32Array whatever its
 * stored dtype. Pure TypeScript: works on bytes from fetch(), File.arrayBuffer() or fs.
 */
import { FormatError, describeValue, isObject, parseJson } from './errors';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface TensorEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /**
   * Row-major values. For an F32 tensor whose bytes are 4-byte aligned this is a zero-copy
   * view into the input bytes (a multi-GB checkpoint must not be held twice); every other
   * case is a fresh array.
   */
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

export interface TensorToWrite {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
// Object.hasOwn, not `in`: a dtype of "toString" must not pass as supported.
const isSupportedDtype = (d: unknown): d is SafetensorsDtype => typeof d === 'string' && Object.hasOwn(DTYPE_BYTES, d);
/** Same cap as the reference Rust implementation: a larger header means a corrupt file, not a big model. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Reading

export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const headerLen = readHeaderLength(bytes, file);
  const header = readHeaderJson(bytes, headerLen, file);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;

  const metadata = readMetadata(header[METADATA_KEY], file);
  const entries: Array<{ name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    entries.push({ name, ...readEntry(name, raw, dataLen, file) });
  }
  checkNoOverlap(entries, file);

  const tensors = new Map<string, TensorEntry>();
  for (const e of entries) {
    const data = decode(bytes, dataStart + e.begin, e.end - e.begin, e.dtype);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function readHeaderLength(bytes: Uint8Array, file: string): number {
  if (bytes.length < 8) {
    throw new FormatError(file, `file is ${bytes.length} bytes, too short to be safetensors (needs an 8-byte header length)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  // A non-zero high word means > 4 GiB of header: certainly garbage (e.g. not a safetensors file at all).
  if (hi !== 0 || lo > MAX_HEADER_BYTES) {
    throw new FormatError(file, `header length ${hi * 2 ** 32 + lo} is not sane (max ${MAX_HEADER_BYTES}); not a safetensors file?`);
  }
  if (lo < 2) throw new FormatError(file, `header length ${lo} is too small to hold a JSON object`);
  if (8 + lo > bytes.length) {
    throw new FormatError(file, `header length ${lo} runs past the end of the file (${bytes.length} bytes); truncated download?`);
  }
  return lo;
}

function readHeaderJson(bytes: Uint8Array, headerLen: number, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new FormatError(file, 'header is not valid UTF-8');
  }
  const header = parseJson(text, file, 'header');
  if (!isObject(header)) throw new FormatError(file, `header must be a JSON object, got ${describeValue(header)}`);
  return header;
}

function readMetadata(raw: unknown, file: string): Record<string, string> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new FormatError(file, `${METADATA_KEY} must be an object of strings, got ${describeValue(raw)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new FormatError(file, `${METADATA_KEY}.${k} must be a string, got ${describeValue(v)}`);
    out[k] = v;
  }
  return out;
}

function readEntry(name: string, raw: unknown, dataLen: number, file: string) {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!isObject(raw)) throw new FormatError(file, `${where}: entry must be an object, got ${describeValue(raw)}`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (dtype === undefined) throw new FormatError(file, `${where}: missing "dtype"`);
  if (shape === undefined) throw new FormatError(file, `${where}: missing "shape"`);
  if (offsets === undefined) throw new FormatError(file, `${where}: missing "data_offsets"`);
  if (!isSupportedDtype(dtype)) {
    throw new FormatError(file, `${where} has dtype ${describeValue(dtype)}; only F32, F16 and BF16 are supported`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    throw new FormatError(file, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
    throw new FormatError(file, `${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new FormatError(file, `${where}: data_offsets [${begin}, ${end}] has begin after end`);
  if (end > dataLen) {
    throw new FormatError(
      file,
      `${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes); truncated file?`,
    );
  }
  const dt = dtype;
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dt];
  if (end - begin !== expected) {
    throw new FormatError(
      file,
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dt} shape [${shape.join(', ')}] needs ${expected}`,
    );
  }
  return { dtype: dt, shape: (shape as number[]).slice(), begin, end };
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Two tensors sharing bytes means a corrupt (or malicious) header; gaps are harmless and tolerated. */
function checkNoOverlap(entries: Array<{ name: string; begin: number; end: number }>, file: string): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) {
      throw new FormatError(
        file,
        `tensors ${JSON.stringify(prev.name)} [${prev.begin}, ${prev.end}] and ${JSON.stringify(cur.name)} [${cur.begin}, ${cur.end}] overlap`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding to f32

function decode(bytes: Uint8Array, start: number, byteLen: number, dtype: SafetensorsDtype): Float32Array {
  switch (dtype) {
    case 'F32':
      return decodeF32(bytes, start, byteLen / 4);
    case 'F16':
      return decodeF16(bytes, start, byteLen / 2);
    case 'BF16':
      return decodeBF16(bytes, start, byteLen / 2);
  }
}

function decodeF32(bytes: Uint8Array, start: number, n: number): Float32Array {
  const abs = bytes.byteOffset + start;
  // Fast path: a typed-array view needs 4-byte alignment and host byte order == file byte order.
  if (LITTLE_ENDIAN && abs % 4 === 0) return new Float32Array(bytes.buffer, abs, n);
  const view = new DataView(bytes.buffer, abs, n * 4);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** BF16 is the top half of an f32: shift into place and reinterpret. Byte-wise reads need no alignment. */
function decodeBF16(bytes: Uint8Array, start: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0, p = start; i < n; i++, p += 2) bits[i] = (bytes[p]! | (bytes[p + 1]! << 8)) << 16;
  return out;
}

function decodeF16(bytes: Uint8Array, start: number, n: number): Float32Array {
  const table = f16Table();
  const out = new Float32Array(n);
  for (let i = 0, p = start; i < n; i++, p += 2) out[i] = table[bytes[p]! | (bytes[p + 1]! << 8)]!;
  return out;
}

let F16_TABLE: Float32Array | undefined;
/** All 65536 half values, built once (256 KiB): a lookup beats per-element bit twiddling on big checkpoints. */
function f16Table(): Float32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32(h);
  }
  return F16_TABLE;
}

/** IEEE 754 binary16 → number, including subnormals, ±0, ±inf and NaN. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal (or zero): frac × 2^-14 / 1024
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Serializes tensors as F32 safetensors. Keys are sorted so the output is deterministic, and the
 * header is space-padded to a multiple of 8 bytes (as the reference writer does) so every tensor
 * starts 8-byte aligned and readers can view the bytes without copying.
 */
export function writeSafetensors(
  tensors: readonly TensorToWrite[] | ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  metadata?: Record<string, string>,
  file = '<safetensors output>',
): Uint8Array {
  const list: TensorToWrite[] = isTensorList(tensors)
    ? tensors.slice()
    : [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  checkWritable(list, metadata, file);
  list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata) header[METADATA_KEY] = { ...metadata };
  let offset = 0;
  for (const t of list) {
    header[t.name] = { dtype: 'F32', shape: t.shape.slice(), data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let p = 8 + headerLen;
  for (const t of list) {
    writeF32(out, view, p, t.data);
    p += t.data.length * 4;
  }
  return out;
}

// Array.isArray does not narrow readonly arrays out of a union, hence this guard.
function isTensorList(t: readonly TensorToWrite[] | ReadonlyMap<string, unknown>): t is readonly TensorToWrite[] {
  return Array.isArray(t);
}

function checkWritable(list: TensorToWrite[], metadata: Record<string, string> | undefined, file: string): void {
  const seen = new Set<string>();
  for (const t of list) {
    const where = `tensor ${JSON.stringify(t.name)}`;
    if (t.name === METADATA_KEY || t.name === '') throw new FormatError(file, `${where}: reserved or empty tensor name`);
    if (seen.has(t.name)) throw new FormatError(file, `${where} appears twice`);
    seen.add(t.name);
    if (!t.shape.every((d) => isNonNegInt(d))) throw new FormatError(file, `${where}: bad shape [${t.shape.join(', ')}]`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new FormatError(file, `${where}: shape [${t.shape.join(', ')}] has ${n} elements but data has ${t.data.length}`);
    }
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new FormatError(file, `metadata ${JSON.stringify(k)} must be a string`);
  }
}

function writeF32(out: Uint8Array, view: DataView, at: number, data: Float32Array): void {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    return;
  }
  for (let i = 0; i < data.length; i++) view.setFloat32(at + i * 4, data[i]!, true);
}

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints

/**
 * Reads `model.safetensors.index.json`: {"metadata": {...}, "weight_map": {tensor: shard file}}.
 * Returns the map and the distinct shard names (sorted). Shard names must be plain file names:
 * they get joined onto the model folder, so "../x" or "a/b" would read outside it.
 */
export function loadShardedIndex(indexJson: string, file: string): { weightMap: Record<string, string>; shards: string[] } {
  const index = parseJson(indexJson, file, 'index');
  if (!isObject(index)) throw new FormatError(file, `index must be a JSON object, got ${describeValue(index)}`);
  const map = index.weight_map;
  if (map === undefined) throw new FormatError(file, 'missing "weight_map"');
  if (!isObject(map)) throw new FormatError(file, `"weight_map" must be an object, got ${describeValue(map)}`);

  const weightMap: Record<string, string> = {};
  const shards = new Set<string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new FormatError(file, `weight_map[${JSON.stringify(tensor)}] must be a shard file name, got ${describeValue(shard)}`);
    }
    if (/[\\/]/.test(shard) || shard === '.' || shard === '..') {
      throw new FormatError(file, `weight_map[${JSON.stringify(tensor)}] = ${JSON.stringify(shard)} is not a plain file name`);
    }
    weightMap[tensor] = shard;
    shards.add(shard);
  }
  if (shards.size === 0) throw new FormatError(file, '"weight_map" is empty');
  return { weightMap, shards: [...shards].sort() };
}
