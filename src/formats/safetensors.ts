/**
 * safetensors reader/writer (https://github.com/huggingface/safetensors):
 *   [u64 little-endian header length N][N bytes of UTF-8 JSON header][raw tensor bytes]
 * The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the start of the raw bytes) plus an optional "__metadata__" string→string map.
 *
 * The engine computes in f32, so every tensor is handed out as a Float32Array whatever its
 * stored dtype. Pure TypeScript: works on bytes from fetch(), File.arrayBuffer() or fs.
 */
import {
  FormatError,
  describeValue,
  isObject,
  type NonIntegerLiterals,
  parseJson,
  quote,
  renderShape,
  renderValue,
  writtenAsInteger,
} from './errors';

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
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Reading
//
// The rules are those of the reference reader (huggingface/safetensors, Rust): the header is
// at most 100 MB of UTF-8 JSON starting with "{" at its first byte (trailing spaces pad it);
// shapes and offsets are non-negative integers written as integers (serde rejects `2.0` and
// `4e0` for a usize); the element count and byte size must not overflow (checked factor by
// factor, so `[2^40, 2^40, 0]` overflows although its product is 0); and the tensors, sorted
// by offsets, must tile the data section exactly: the first starts at 0, each starts where the
// previous one ends (no gap, no overlap, no zero-length tensor inside another), and the last
// ends at the end of the file. Keys written twice anywhere in the header are refused too
// (JSON.parse, like serde's map, would silently keep one of them).

/** Where one tensor lies in a file, read from the header; nothing decoded yet. */
export interface TensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte range relative to the start of the data section, [begin, end). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + header length). */
  readonly dataStart: number;
}

/** Header nesting: the top object, an entry, its shape list; a little slack for unknown fields. */
const MAX_HEADER_DEPTH = 8;
/** Same cap as the reference Rust implementation: a larger header means a corrupt file, not a big model. */
const MAX_HEADER_BYTES = 100_000_000;
const OPEN_BRACE = 0x7b;

export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const header = readSafetensorsHeader(bytes, file);
  const tensors = new Map<string, TensorEntry>();
  for (const [name, info] of header.tensors) tensors.set(name, decodeTensor(bytes, header, info));
  return { tensors, metadata: header.metadata };
}

/**
 * Reads and checks the header only (every rule above), without decoding any tensor: what a
 * loader needs to compare shapes against a config before it allocates anything.
 */
export function readSafetensorsHeader(bytes: Uint8Array, file: string): SafetensorsHeader {
  const headerLen = readHeaderLength(bytes, file);
  const literals: NonIntegerLiterals = new WeakMap();
  const header = readHeaderJson(bytes, headerLen, file, literals);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;

  const metadata = readMetadata(header[METADATA_KEY], file);
  const entries: Array<TensorInfo & { name: string }> = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    entries.push({ name, ...readEntry(name, raw, dataLen, literals, file) });
  }
  checkCoverage(entries, dataLen, file);
  const tensors = new Map<string, TensorInfo>();
  for (const { name, ...info } of entries) tensors.set(name, info);
  return { tensors, metadata, dataStart };
}

/** One tensor of a checked header as f32 (a zero-copy view for aligned F32 data). */
export function decodeTensor(bytes: Uint8Array, header: SafetensorsHeader, info: TensorInfo): TensorEntry {
  const data = decode(bytes, header.dataStart + info.begin, info.end - info.begin, info.dtype);
  return { dtype: info.dtype, shape: info.shape.slice(), data };
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

function readHeaderJson(bytes: Uint8Array, headerLen: number, file: string, literals: NonIntegerLiterals): Record<string, unknown> {
  const first = bytes[8]!;
  if (first !== OPEN_BRACE) {
    const shown = first >= 0x21 && first <= 0x7e ? `"${String.fromCharCode(first)}"` : `byte 0x${first.toString(16).padStart(2, '0')}`;
    throw new FormatError(file, `header must be a JSON object starting with "{" at its first byte, got ${shown}`);
  }
  let text: string;
  try {
    // ignoreBOM: a BOM is not skipped silently (it cannot come first anyway: the first byte is "{").
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new FormatError(file, 'header is not valid UTF-8');
  }
  const header = parseJson(text, file, 'header', { maxDepth: MAX_HEADER_DEPTH, nonIntegerLiterals: literals });
  if (!isObject(header)) throw new FormatError(file, `header must be a JSON object, got ${describeValue(header)}`);
  return header;
}

function readMetadata(raw: unknown, file: string): Record<string, string> {
  if (raw === undefined || raw === null) return {}; // the reference reads it as an Option
  if (!isObject(raw)) throw new FormatError(file, `${METADATA_KEY} must be an object of strings, got ${describeValue(raw)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new FormatError(file, `${METADATA_KEY}${memberText(k)} must be a string, got ${describeValue(v)}`);
    out[k] = v;
  }
  return out;
}

function readEntry(name: string, raw: unknown, dataLen: number, literals: NonIntegerLiterals, file: string): TensorInfo {
  const where = `tensor ${quote(name)}`;
  if (!isObject(raw)) throw new FormatError(file, `${where}: entry must be an object, got ${describeValue(raw)}`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (dtype === undefined) throw new FormatError(file, `${where}: missing "dtype"`);
  if (shape === undefined) throw new FormatError(file, `${where}: missing "shape"`);
  if (offsets === undefined) throw new FormatError(file, `${where}: missing "data_offsets"`);
  if (!isSupportedDtype(dtype)) {
    throw new FormatError(file, `${where} has dtype ${describeValue(dtype)}; only F32, F16 and BF16 are supported`);
  }
  const isIndex = (list: unknown[], i: number) => isNonNegInt(list[i]) && writtenAsInteger(literals, list, i);
  // serde reads a usize only from an integer literal: `2.0` and `4e0` are refused although JSON.parse gives 2 and 4.
  const asWritten = (list: unknown[]) =>
    list.every(isNonNegInt) ? ' (written with a fraction or exponent; integers must be written as integers)' : '';
  if (!Array.isArray(shape) || !shape.every((_, i) => isIndex(shape, i))) {
    const why = Array.isArray(shape) ? asWritten(shape) : '';
    throw new FormatError(file, `${where}: shape must be a list of non-negative integers, got ${renderValue(shape)}${why}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isIndex(offsets, 0) || !isIndex(offsets, 1)) {
    const why = Array.isArray(offsets) && offsets.length === 2 ? asWritten(offsets) : '';
    throw new FormatError(file, `${where}: data_offsets must be [begin, end] non-negative integers, got ${renderValue(offsets)}${why}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new FormatError(file, `${where}: data_offsets [${begin}, ${end}] has begin after end`);
  if (end > dataLen) {
    throw new FormatError(
      file,
      `${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes); truncated file?`,
    );
  }
  // Factor by factor, as the reference's checked multiplication: the first overflow is an error.
  let elements = 1;
  for (const d of shape as number[]) {
    elements *= d;
    if (elements > Number.MAX_SAFE_INTEGER)
      throw new FormatError(file, `${where}: shape ${renderShape(shape)} overflows the element count`);
  }
  const expected = elements * DTYPE_BYTES[dtype];
  if (expected > Number.MAX_SAFE_INTEGER) throw new FormatError(file, `${where}: shape ${renderShape(shape)} overflows the byte size`);
  if (end - begin !== expected) {
    throw new FormatError(
      file,
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} shape ${renderShape(shape)} needs ${expected}`,
    );
  }
  return { dtype, shape: (shape as number[]).slice(), begin, end };
}

/** `.format` for a plain key, `["a b…"]` for anything else (bounded). */
function memberText(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,60}$/.test(k) ? `.${k}` : `[${quote(k, 60)}]`;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The tensors, in offset order, must tile [0, dataLen) exactly. A gap or trailing bytes are
 * refused as the reference does: bytes no tensor owns are where a tampered file hides things,
 * and a length that does not add up means a bad write or a truncated/extended download.
 */
function checkCoverage(entries: Array<TensorInfo & { name: string }>, dataLen: number, file: string): void {
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: (TensorInfo & { name: string }) | null = null;
  for (const cur of sorted) {
    if (cur.begin < covered && prev) {
      throw new FormatError(
        file,
        `tensors ${quote(prev.name)} [${prev.begin}, ${prev.end}] and ${quote(cur.name)} [${cur.begin}, ${cur.end}] overlap`,
      );
    }
    if (cur.begin > covered) {
      const after = prev ? `the end of tensor ${quote(prev.name)} (byte ${covered})` : 'the start of the data';
      throw new FormatError(
        file,
        `tensor ${quote(cur.name)} starts at data byte ${cur.begin}, leaving ${cur.begin - covered} bytes after ${after} that no tensor owns`,
      );
    }
    covered = cur.end;
    prev = cur;
  }
  if (covered !== dataLen) {
    throw new FormatError(
      file,
      `the tensors cover ${covered} bytes of data but the file has ${dataLen}: ${dataLen - covered} trailing bytes that no tensor owns`,
    );
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
    const where = `tensor ${quote(t.name)}`;
    if (t.name === METADATA_KEY || t.name === '') throw new FormatError(file, `${where}: reserved or empty tensor name`);
    if (seen.has(t.name)) throw new FormatError(file, `${where} appears twice`);
    seen.add(t.name);
    if (!t.shape.every((d) => isNonNegInt(d))) throw new FormatError(file, `${where}: bad shape ${renderShape(t.shape)}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new FormatError(file, `${where}: shape ${renderShape(t.shape)} has ${n} elements but data has ${t.data.length}`);
    }
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new FormatError(file, `metadata ${quote(k)} must be a string`);
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
      throw new FormatError(file, `weight_map[${quote(tensor)}] must be a shard file name, got ${describeValue(shard)}`);
    }
    if (/[\\/]/.test(shard) || shard === '.' || shard === '..') {
      throw new FormatError(file, `weight_map[${quote(tensor)}] = ${quote(shard)} is not a plain file name`);
    }
    weightMap[tensor] = shard;
    shards.add(shard);
  }
  if (shards.size === 0) throw new FormatError(file, '"weight_map" is empty');
  return { weightMap, shards: [...shards].sort() };
}
