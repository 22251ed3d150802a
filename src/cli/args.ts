import { DEVICE_LIMITS, type DeviceLimits } from '../gpu/device';

/**
 * Flags every command takes: `--device-limits adapter|spec-default` (gpu/device.ts DeviceLimits)
 * and `--kernels auto|cpu|gpu` (the runtime's KernelProfile: 'gpu' runs the tiled matmul, subgroup
 * reductions and workgroup rows a real GPU gets, on any adapter; 'auto' picks by the adapter).
 */
const COMMON_VALUES = ['device-limits', 'kernels'];
const KERNELS = ['auto', 'cpu', 'gpu'] as const;
export type KernelChoice = (typeof KERNELS)[number];

/** A small strict flag parser: `--name value`, `--flag`; unknown flags are errors. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** Flags that take a value. */
  readonly values: readonly string[];
  /** Flags that are booleans. */
  readonly switches?: readonly string[];
}

export class Flags {
  private readonly values = new Map<string, string>();
  private readonly switches = new Set<string>();

  constructor(
    private readonly command: string,
    argv: readonly string[],
    spec: FlagSpec,
  ) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith('--')) throw new UsageError(`${command}: unexpected argument '${arg}'`);
      const name = arg.slice(2);
      if (spec.switches?.includes(name)) {
        this.switches.add(name);
      } else if (spec.values.includes(name) || COMMON_VALUES.includes(name)) {
        const value = argv[++i];
        if (value === undefined || value.startsWith('--')) throw new UsageError(`${command}: --${name} needs a value`);
        if (this.values.has(name)) throw new UsageError(`${command}: --${name} given twice`);
        this.values.set(name, value);
      } else {
        throw new UsageError(`${command}: unknown flag --${name}`);
      }
    }
  }

  /** The device's limits to ask for: the adapter's (default) or exactly WebGPU's defaults. */
  deviceLimits(): DeviceLimits {
    return this.oneOf('device-limits', DEVICE_LIMITS, ' or ');
  }

  /** --kernels: which kernel profile the runtime uses. */
  kernels(): KernelChoice {
    return this.oneOf('kernels', KERNELS, ', ');
  }

  /** A flag whose value is one of `options` (the first when it is not given). */
  private oneOf<T extends string>(name: string, options: readonly T[], separator: string): T {
    const v = this.values.get(name) ?? options[0]!;
    const found = options.find((o) => o === v);
    if (!found) throw new UsageError(`${this.command}: --${name} must be ${options.join(separator)}, got '${v}'`);
    return found;
  }

  has(name: string): boolean {
    return this.values.has(name) || this.switches.has(name);
  }

  string(name: string): string {
    const v = this.values.get(name);
    if (v === undefined) throw new UsageError(`${this.command}: --${name} is required`);
    return v;
  }

  optionalString(name: string): string | undefined {
    return this.values.get(name);
  }

  number(name: string, fallback?: number, check: (v: number) => boolean = Number.isFinite, what = 'a number'): number {
    const raw = this.values.get(name);
    if (raw === undefined) {
      if (fallback === undefined) throw new UsageError(`${this.command}: --${name} is required`);
      return fallback;
    }
    const v = Number(raw);
    if (raw.trim() === '' || !check(v)) throw new UsageError(`${this.command}: --${name} must be ${what}, got '${raw}'`);
    return v;
  }

  positiveInt(name: string, fallback?: number): number {
    return this.number(name, fallback, (v) => Number.isSafeInteger(v) && v > 0, 'a positive integer');
  }

  list(name: string): string[] {
    return this.string(name)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }

  isSet(name: string): boolean {
    return this.switches.has(name);
  }
}
