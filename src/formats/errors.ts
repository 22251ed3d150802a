/**
 * The one error type of the file-format layer. Every bad input is reported as
 * `<file>: <problem>` so that a user staring at a failed import knows which of the
 * many files in a model/adapter folder to look at, and what is wrong with it.
 */
export class FormatError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'FormatError';
  }
}

/** Parses JSON text, turning a syntax error into a FormatError that names the file. */
export function parseJson(text: string, file: string, what = 'file'): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FormatError(file, `${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** Narrows to a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses JSON text that must be an object at the top level. */
export function parseJsonObject(text: string, file: string, what: string): Record<string, unknown> {
  const v = parseJson(text, file, what);
  if (!isObject(v)) throw new FormatError(file, `${what} must be a JSON object, got ${describeValue(v)}`);
  return v;
}

/** A short human description of a JSON value for error messages ("an array", "the string \"x\""). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `a ${typeof v}`;
}
