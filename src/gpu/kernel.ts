/**
 * A kernel is one WGSL entry point plus this small descriptor: which shader files make up its
 * text, what its bindings are (all in group 0, in binding order) and the layout of its uniform
 * struct. Shapes always travel as uniforms so that one pipeline serves every shape; override
 * constants are for choices that change the compiled code (tile variants, flags).
 */
export type BindingKind = 'read' | 'storage' | 'uniform';
export type UniformType = 'u32' | 'i32' | 'f32';

export interface KernelDescriptor {
  /** Unique, human-readable name; also the debug label of the pipeline. */
  readonly name: string;
  /** Shader files (names inside `shaders/`) concatenated in order to form the module text. */
  readonly shaders: readonly string[];
  readonly entryPoint: string;
  /** Storage bindings in binding order. The uniform struct, if any, comes after them. */
  readonly bindings: readonly Exclude<BindingKind, 'uniform'>[];
  /** Fields of the `Params` uniform struct, in declaration order; every field is 4 bytes. */
  readonly uniforms: readonly (readonly [string, UniformType])[];
}

export type Overrides = Readonly<Record<string, number | boolean>>;

export function defineKernel(d: KernelDescriptor): KernelDescriptor {
  return d;
}

/** Packs uniform values in struct order; WGSL structs of 4-byte scalars have no padding. */
export function packUniforms(kernel: KernelDescriptor, values: Readonly<Record<string, number>>): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil((kernel.uniforms.length * 4) / 16) * 16));
  const view = new DataView(bytes);
  kernel.uniforms.forEach(([field, type], i) => {
    const v = values[field];
    if (v === undefined || Number.isNaN(v)) {
      throw new Error(`kernel ${kernel.name}: uniform '${field}' is missing`);
    }
    if (type === 'f32') view.setFloat32(i * 4, v, true);
    else if (type === 'i32') view.setInt32(i * 4, v, true);
    else view.setUint32(i * 4, v, true);
  });
  return bytes;
}
