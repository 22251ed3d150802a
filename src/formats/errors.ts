/**
 * The one error type of the file-format layer. Every bad input is reported as
 * `<file>: <problem>` so that a user staring at a failed import knows which of the
 * many files in a model/adapter folder to look at, and what is wrong with it.
 *
 * Messages are bounded: a value from a hostile file (a million-entry shape, a key nested
 * 100,000 deep, a 50 MB tensor name) is rendered through `renderValue` / `quote`, which cap
 * depth and length, and the problem as a whole is cut at MAX_PROBLEM_CHARS.
 */
export class FormatError extends Error {
  readonly problem: string;
  constructor(
    readonly file: string,
    problem: string,
  ) {
    const capped = capText(problem, MAX_PROBLEM_CHARS);
    super(`${capText(file, MAX_FILE_CHARS)}: ${capped}`);
    this.problem = capped;
    this.name = 'FormatError';
  }
}

/** The longest problem text a FormatError carries; anything longer is cut (a backstop: values are rendered shorter). */
export const MAX_PROBLEM_CHARS = 1000;
const MAX_FILE_CHARS = 300;
/** The longest rendering of one value from a file inside a message. */
export const MAX_VALUE_CHARS = 200;
/** JSON nesting (arrays and objects) accepted by parseJson unless told otherwise; real configs nest under 10. */
export const MAX_JSON_DEPTH = 64;

function capText(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * Parses JSON text like JSON.parse, but as the strict reader every format file gets:
 * a syntax error, a key written twice in one object (JSON.parse silently keeps the last one,
 * so `{"r": 8, "r": 64}` would mean whatever the last writer said) and nesting deeper than
 * `maxDepth` are FormatErrors that name the file and say where. `nonIntegerLiterals`, when
 * given, learns which numbers were written with a fraction or exponent (`2.0`, `4e0`), which
 * JSON.parse cannot tell from `2` and `4`.
 */
export function parseJson(text: string, file: string, what = 'file', opts: JsonOptions = {}): unknown {
  try {
    return new StrictJson(text, opts.maxDepth ?? MAX_JSON_DEPTH, opts.nonIntegerLiterals).parse();
  } catch (e) {
    if (e instanceof JsonProblem) throw new FormatError(file, `${what} ${e.message}`);
    throw e;
  }
}

export interface JsonOptions {
  /** Deepest nesting of arrays/objects accepted (the top-level value is depth 1). */
  readonly maxDepth?: number;
  /** Filled with, for each array or object, the keys (indices) of its numbers written as `2.0` / `4e0`. */
  readonly nonIntegerLiterals?: NonIntegerLiterals;
}

/** Which members of a parsed array/object were numbers written with a fraction or exponent. */
export type NonIntegerLiterals = WeakMap<object, Set<string | number>>;

/** True when `container[key]` is a number written as a plain integer (no `.`, no exponent). */
export function writtenAsInteger(literals: NonIntegerLiterals, container: object, key: string | number): boolean {
  return !literals.get(container)?.has(key);
}

/** Narrows to a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses JSON text that must be an object at the top level. */
export function parseJsonObject(text: string, file: string, what: string, opts: JsonOptions = {}): Record<string, unknown> {
  const v = parseJson(text, file, what, opts);
  if (!isObject(v)) throw new FormatError(file, `${what} must be a JSON object, got ${describeValue(v)}`);
  return v;
}

/** A short human description of a JSON value for error messages ("an array", "the string \"x\""). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${quote(v, 40)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `a ${typeof v}`;
}

/** A string in JSON quotes for a message, cut to about `max` characters. */
export function quote(s: string, max = 80): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

/**
 * A JSON-like rendering of any value for a message, at most `max` characters, at most three
 * levels deep and a handful of entries a level: `[1, [2, [3, […]]], …(999997 more)]`. Never
 * recurses further than that, so a value nested 100,000 deep cannot overflow the stack.
 */
export function renderValue(v: unknown, max = MAX_VALUE_CHARS): string {
  return capText(render(v, 3, max), max);
}

/** A shape (or any list of numbers) for a message: `[2, 3]`, cut like renderValue. */
export function renderShape(shape: readonly unknown[]): string {
  return renderValue(shape);
}

const ENTRIES_SHOWN = 8;

function render(v: unknown, depth: number, budget: number): string {
  if (typeof v === 'string') return quote(v, Math.max(8, Math.min(60, budget)));
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v === undefined) return 'undefined';
  if (typeof v !== 'object') return typeof v;
  const isArray = Array.isArray(v);
  const entries: Array<[string, unknown]> = [];
  let total: number;
  if (isArray) {
    total = v.length;
    for (let i = 0; i < Math.min(total, ENTRIES_SHOWN); i++) entries.push(['', v[i]]);
  } else {
    const keys = Object.keys(v);
    total = keys.length;
    for (const k of keys.slice(0, ENTRIES_SHOWN)) entries.push([k, (v as Record<string, unknown>)[k]]);
  }
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (total === 0) return `${open}${close}`;
  if (depth === 0) return `${open}…${close}`;
  const parts: string[] = [];
  let used = 2;
  for (const [k, x] of entries) {
    const part = `${isArray ? '' : `${quote(k, 30)}: `}${render(x, depth - 1, budget - used)}`;
    used += part.length + 2;
    if (used > budget) break;
    parts.push(part);
  }
  if (parts.length < total) parts.push(`…(${total - parts.length} more)`);
  return `${open}${parts.join(', ')}${close}`;
}

// ---------------------------------------------------------------------------------------------
// The strict JSON reader

/** A problem found while reading JSON text; parseJson turns it into a FormatError naming the file. */
class JsonProblem extends Error {}

// Character codes the reader looks at.
const C_TAB = 9;
const C_LF = 10;
const C_CR = 13;
const C_SPACE = 32;
const C_QUOTE = 34;
const C_PLUS = 43;
const C_COMMA = 44;
const C_MINUS = 45;
const C_DOT = 46;
const C_ZERO = 48;
const C_NINE = 57;
const C_COLON = 58;
const C_E = 69;
const C_L_BRACKET = 91;
const C_BACKSLASH = 92;
const C_R_BRACKET = 93;
const C_LOWER_E = 101;
const C_L_BRACE = 123;
const C_R_BRACE = 125;

/**
 * A recursive-descent JSON reader (RFC 8259, the grammar JSON.parse accepts) that builds the
 * same values, with a depth bound (so recursion stays shallow) and duplicate-key detection.
 * String literals with escapes are decoded by JSON.parse on the literal alone.
 */
class StrictJson {
  private i = 0;
  /** Keys and indices from the top level down to the value being read, for messages. */
  private readonly path: Array<string | number> = [];
  /** Whether the number just read was written as a plain integer. */
  private lastWasInteger = true;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    private readonly literals: NonIntegerLiterals | undefined,
  ) {}

  parse(): unknown {
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) this.fail(`has unexpected ${this.charAt()} after the JSON value`);
    return v;
  }

  private fail(problem: string): never {
    throw new JsonProblem(`is not valid JSON: ${problem} (${this.where()})`);
  }

  private where(): string {
    let line = 1;
    let lineStart = 0;
    for (let j = this.s.indexOf('\n'); j >= 0 && j < this.i; j = this.s.indexOf('\n', j + 1)) {
      line++;
      lineStart = j + 1;
    }
    const column = this.i - lineStart + 1;
    const at = this.path.length === 0 ? '' : `, in ${pathText(this.path)}`;
    return `line ${line} column ${column}${at}`;
  }

  private charAt(): string {
    if (this.i >= this.s.length) return 'end of text';
    const c = this.s.charCodeAt(this.i);
    return c < 0x20 || c > 0x7e ? `character U+${c.toString(16).toUpperCase().padStart(4, '0')}` : `"${this.s[this.i]}"`;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== C_SPACE && c !== C_LF && c !== C_CR && c !== C_TAB) break;
    }
    this.i = i;
  }

  private value(depth: number): unknown {
    this.ws();
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (c === C_L_BRACE) return this.object(depth + 1);
    if (c === C_L_BRACKET) return this.array(depth + 1);
    if (c === C_QUOTE) return this.string();
    if (c === C_MINUS || (c >= C_ZERO && c <= C_NINE)) return this.number();
    for (const [word, v] of LITERALS) {
      if (s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    this.fail(`unexpected ${this.charAt()}`);
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) {
      throw new JsonProblem(`nests arrays/objects deeper than ${this.maxDepth} levels (at ${pathText(this.path)})`);
    }
  }

  private object(depth: number): Record<string, unknown> {
    this.enter(depth);
    this.i++; // {
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s.charCodeAt(this.i) === C_R_BRACE) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== C_QUOTE) this.fail(`expected a key in quotes, got ${this.charAt()}`);
      const key = this.string();
      this.ws();
      if (this.s.charCodeAt(this.i) !== C_COLON) this.fail(`expected ":" after the key ${quote(key, 40)}, got ${this.charAt()}`);
      this.i++;
      if (Object.hasOwn(out, key)) {
        throw new JsonProblem(
          `has the key ${quote(key, 60)} twice in ${pathText(this.path)} (JSON readers disagree on which one counts; keep one)`,
        );
      }
      this.path.push(key);
      const v = this.value(depth);
      this.path.pop();
      // A plain assignment of "__proto__" would set the prototype instead; JSON.parse makes it an own key.
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      else out[key] = v;
      if (typeof v === 'number' && !this.lastWasInteger) this.noteNonInteger(out, key);
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === C_COMMA) continue;
      if (c === C_R_BRACE) return out;
      this.i--;
      this.fail(`expected "," or "}" after the value of ${quote(key, 40)}, got ${this.charAt()}`);
    }
  }

  private array(depth: number): unknown[] {
    this.enter(depth);
    this.i++; // [
    const out: unknown[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === C_R_BRACKET) {
      this.i++;
      return out;
    }
    for (;;) {
      this.path.push(out.length);
      const v = this.value(depth);
      this.path.pop();
      if (typeof v === 'number' && !this.lastWasInteger) this.noteNonInteger(out, out.length);
      out.push(v);
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === C_COMMA) continue;
      if (c === C_R_BRACKET) return out;
      this.i--;
      this.fail(`expected "," or "]" in a list, got ${this.charAt()}`);
    }
  }

  private noteNonInteger(container: object, key: string | number): void {
    if (!this.literals) return;
    const set = this.literals.get(container) ?? new Set<string | number>();
    set.add(key);
    this.literals.set(container, set);
  }

  private string(): string {
    const s = this.s;
    const start = ++this.i; // after the opening quote
    let i = start;
    let escaped = false;
    for (;;) {
      if (i >= s.length) {
        this.i = start - 1;
        this.fail('a string is not closed');
      }
      const c = s.charCodeAt(i);
      if (c === C_QUOTE) break;
      if (c === C_BACKSLASH) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c < 0x20) {
        this.i = i;
        this.fail(`a string holds the control ${this.charAt()} (write it escaped)`);
      }
      i++;
    }
    this.i = i + 1;
    const raw = s.slice(start, i);
    if (!escaped) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      this.i = start - 1;
      return this.fail('a string has a bad escape sequence');
    }
  }

  private number(): number {
    const s = this.s;
    const start = this.i;
    let i = start;
    const digits = () => {
      const from = i;
      while (i < s.length && s.charCodeAt(i) >= C_ZERO && s.charCodeAt(i) <= C_NINE) i++;
      return i - from;
    };
    if (s.charCodeAt(i) === C_MINUS) i++;
    const firstDigit = s.charCodeAt(i);
    const intDigits = digits();
    if (intDigits === 0 || (firstDigit === C_ZERO && intDigits > 1)) {
      this.i = start;
      this.fail('a number is malformed (no digits, or a leading zero)');
    }
    let integer = true;
    if (s.charCodeAt(i) === C_DOT) {
      i++;
      integer = false;
      if (digits() === 0) {
        this.i = start;
        this.fail('a number has no digits after its "."');
      }
    }
    const e = s.charCodeAt(i);
    if (e === C_E || e === C_LOWER_E) {
      i++;
      integer = false;
      const sign = s.charCodeAt(i);
      if (sign === C_PLUS || sign === C_MINUS) i++;
      if (digits() === 0) {
        this.i = start;
        this.fail('a number has no digits in its exponent');
      }
    }
    this.i = i;
    this.lastWasInteger = integer;
    return Number(s.slice(start, i));
  }
}

const LITERALS: ReadonlyArray<[string, unknown]> = [
  ['true', true],
  ['false', false],
  ['null', null],
];

/** `$.model.vocab["a b"][3]`, bounded like every rendered value. */
function pathText(path: ReadonlyArray<string | number>): string {
  let out = '$';
  for (const p of path) {
    if (out.length > MAX_VALUE_CHARS) return `${out}…`;
    out += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `.${p}` : `[${quote(p, 40)}]`;
  }
  return out === '$' ? 'the top-level value' : out;
}
