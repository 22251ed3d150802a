/**
 * Dataset bytes → text without losing track of bytes that are not UTF-8. Valid UTF-8 is decoded by
 * the platform's fatal TextDecoder; when that refuses the file, every byte that does not belong to a
 * well-formed sequence (Unicode 15 table 3-7) becomes the unpaired surrogate U+DC00 + byte, as
 * Python's "surrogateescape" does. A valid decode never yields an unpaired surrogate, so the parser
 * can tell exactly which rows held invalid bytes and report them as bad rows by line.
 */
import { LONE_SURROGATE } from './types';

export interface DecodedText {
  readonly text: string;
  /** How many bytes were not UTF-8 (each one an unpaired surrogate in `text`). */
  readonly invalidBytes: number;
}

const BOM = '\uFEFF';

export function decodeUtf8Escaped(bytes: Uint8Array): DecodedText {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes), invalidBytes: 0 };
  } catch {
    // Decoded span by span below.
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const pieces: string[] = [];
  let invalidBytes = 0;
  let spanStart = 0;
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i]! < 0x80) {
      i++;
      continue;
    }
    const n = sequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (i > spanStart) pieces.push(decoder.decode(bytes.subarray(spanStart, i)));
    pieces.push(String.fromCharCode(0xdc00 + bytes[i]!));
    invalidBytes++;
    i++;
    spanStart = i;
  }
  if (spanStart < bytes.length) pieces.push(decoder.decode(bytes.subarray(spanStart)));
  const text = pieces.join('');
  return { text: text.startsWith(BOM) ? text.slice(1) : text, invalidBytes };
}

/** The length of the well-formed UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const b1 = b[i + 1] ?? 0;
  if (c >= 0xc2 && c <= 0xdf) return isCont(b1) ? 2 : 0;
  const b2 = b[i + 2] ?? 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return b1 >= lo && b1 <= hi && isCont(b2) ? 3 : 0;
  }
  const b3 = b[i + 3] ?? 0;
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return b1 >= lo && b1 <= hi && isCont(b2) && isCont(b3) ? 4 : 0;
  }
  return 0;
}

function isCont(x: number): boolean {
  return x >= 0x80 && x <= 0xbf;
}

/**
 * Why a piece of text cannot be trained on, or null: invalid UTF-8 (or an unpaired surrogate from a
 * JSON \uD800 escape), U+FFFD (what a lossy decoder left of invalid bytes), or a NUL character.
 */
export function textProblem(s: string): string | null {
  if (LONE_SURROGATE.test(s)) return 'not valid UTF-8 (bytes that are not UTF-8 text, or an unpaired surrogate escape)';
  if (s.includes('\uFFFD')) return 'contains U+FFFD replacement characters (text that was decoded from invalid UTF-8)';
  if (s.includes('\0')) return 'contains a NUL character (binary data?)';
  return null;
}
