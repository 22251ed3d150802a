/**
 * The benchmark's peer for a training step: the same Llama, the same LoRA and the same AdamW as
 * our engine, written with TensorFlow.js ops and differentiated by tf.variableGrads. It mirrors
 * src/model/llama-block.ts (pre-RMSNorm, HF rotate_half RoPE, causal softmax attention, SwiGLU
 * MLP, tied LM head, mean cross-entropy over next-token targets) and the AdamW of
 * shaders/adamw.wgsl with the global-norm clipping of shaders/clip_scale.wgsl. Heads = kv heads.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterTensors } from '../src/adapters/types';
import { IGNORE_INDEX, type TokenBatch } from '../src/formats/batch';
import type { ModelConfig } from '../src/formats/hf-config';
import { adapterScale, type AdapterSpec, peftKey, targetedModules } from '../src/formats/peft';
import { LORA_SUFFIX } from '../src/adapters/lora/format';
import { ropeInverseFrequencies, ropeTables } from '../src/kernels/rope';
import type { WeightMap } from '../src/model/transformer';
import { shiftedTargets } from '../src/train/device-batch';
import type { TrainHyper } from '../src/train/trainer';

/** A batch as the TF.js model takes it: the same next-token targets as our engine's. */
export interface TfBatch {
  readonly ids: tf.Tensor1D;
  /** One-hot rows of the targets, zero rows where the target is ignored. */
  readonly targetOneHot: tf.Tensor2D;
  readonly targetCount: number;
  readonly B: number;
  readonly S: number;
}

export function tfBatch(batch: TokenBatch, vocab: number): TfBatch {
  const targets = shiftedTargets(batch);
  const targetCount = targets.reduce((n, t) => n + (t === IGNORE_INDEX ? 0 : 1), 0);
  // oneHot of −1 is an all-zero row, which drops ignored positions from the sum.
  const indices = tf.tensor1d(
    Array.from(targets, (t) => (t === IGNORE_INDEX ? -1 : t)),
    'int32',
  );
  const targetOneHot = tf.oneHot(indices, vocab) as tf.Tensor2D;
  indices.dispose();
  return {
    ids: tf.tensor1d(batch.inputIds, 'int32'),
    targetOneHot: tf.cast(targetOneHot, 'float32'),
    targetCount,
    B: batch.batch,
    S: batch.seq,
  };
}

export function disposeTfBatch(b: TfBatch): void {
  tf.dispose([b.ids, b.targetOneHot]);
}

export interface TfParam {
  /** PEFT key, the same as our adapter's parameter key. */
  readonly key: string;
  readonly variable: tf.Variable;
}

interface LoraPair {
  readonly a: tf.Variable;
  readonly b: tf.Variable;
}

export class TfLoraLlama {
  private readonly weights = new Map<string, tf.Tensor>();
  private readonly lora = new Map<string, LoraPair>();
  private readonly rope = new Map<number, { cos: tf.Tensor; sin: tf.Tensor }>();
  private readonly scale: number;
  /** Trainable LoRA matrices in PEFT key order (our adapter's parameter order). */
  readonly params: TfParam[] = [];

  constructor(
    private readonly config: ModelConfig,
    weights: WeightMap,
    spec: AdapterSpec,
    loraTensors: AdapterTensors,
  ) {
    for (const [key, w] of weights) this.weights.set(key, tf.tensor(w.data, [...w.shape]));
    this.scale = adapterScale(spec);
    for (const m of targetedModules(spec, config, 'TF.js LoRA')) {
      const variable = (suffix: string) => {
        const key = peftKey(m.modulePath, suffix);
        const t = loraTensors.get(key);
        if (!t) throw new Error(`LoRA tensor ${key} is missing`);
        const v = tf.variable(tf.tensor(t.data, [...t.shape]), true, key);
        this.params.push({ key, variable: v });
        return v;
      };
      this.lora.set(m.modulePath, { a: variable(LORA_SUFFIX.loraA), b: variable(LORA_SUFFIX.loraB) });
    }
  }

  private weight(key: string): tf.Tensor {
    const w = this.weights.get(key);
    if (!w) throw new Error(`model weight ${key} is missing`);
    return w;
  }

  /** y = x Wᵀ + s · (x Aᵀ) Bᵀ for a targeted module, x Wᵀ otherwise. */
  private linear(x: tf.Tensor, modulePath: string): tf.Tensor {
    const y = tf.matMul(x, this.weight(`${modulePath}.weight`), false, true);
    const pair = this.lora.get(modulePath);
    if (!pair) return y;
    const low = tf.matMul(tf.matMul(x, pair.a, false, true), pair.b, false, true);
    return tf.add(y, tf.mul(low, this.scale));
  }

  private rmsnorm(x: tf.Tensor, weightKey: string): tf.Tensor {
    const meanSquare = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, this.config.normEps))), this.weight(weightKey));
  }

  /** cos and sin [1, S, 1, D] with each half-table repeated, as HF's rotate_half expects. */
  private ropeTables(S: number): { cos: tf.Tensor; sin: tf.Tensor } {
    let tables = this.rope.get(S);
    if (!tables) {
      const D = this.config.headDim;
      const { cos, sin } = ropeTables(S, ropeInverseFrequencies(D, this.config.ropeTheta));
      // Built inside variableGrads' scope on first use: tf.keep saves them from its clean-up.
      const full = (half: Float32Array) =>
        tf.keep(
          tf.tidy(() => {
            const t = tf.tensor2d(half, [S, D / 2]);
            return tf.reshape(tf.concat([t, t], 1), [1, S, 1, D]);
          }),
        );
      tables = { cos: full(cos), sin: full(sin) };
      this.rope.set(S, tables);
    }
    return tables;
  }

  /** x [B, S, H, D] → x·cos + rotate_half(x)·sin, rotate_half(x) = (−x₂, x₁). */
  private applyRope(x: tf.Tensor, S: number): tf.Tensor {
    const { cos, sin } = this.ropeTables(S);
    const half = this.config.headDim / 2;
    const [x1, x2] = tf.split(x, [half, half], 3);
    const rotated = tf.concat([tf.neg(x2!), x1!], 3);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  }

  /** [B·S, H·D] → [B, H, S, D], RoPE applied first when asked. */
  private heads(x: tf.Tensor, B: number, S: number, rope: boolean): tf.Tensor {
    const { numHeads: H, headDim: D } = this.config;
    let t = tf.reshape(x, [B, S, H, D]);
    if (rope) t = this.applyRope(t, S);
    return tf.transpose(t, [0, 2, 1, 3]);
  }

  private attention(n1: tf.Tensor, prefix: string, B: number, S: number, mask: tf.Tensor): tf.Tensor {
    const q = this.heads(this.linear(n1, `${prefix}.self_attn.q_proj`), B, S, true);
    const k = this.heads(this.linear(n1, `${prefix}.self_attn.k_proj`), B, S, true);
    const v = this.heads(this.linear(n1, `${prefix}.self_attn.v_proj`), B, S, false);
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(this.config.headDim)), mask);
    const o = tf.matMul(tf.softmax(scores), v);
    const merged = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B * S, this.config.hiddenSize]);
    return this.linear(merged, `${prefix}.self_attn.o_proj`);
  }

  private mlp(n2: tf.Tensor, prefix: string): tf.Tensor {
    const g = this.linear(n2, `${prefix}.mlp.gate_proj`);
    const u = this.linear(n2, `${prefix}.mlp.up_proj`);
    return this.linear(tf.mul(tf.mul(g, tf.sigmoid(g)), u), `${prefix}.mlp.down_proj`);
  }

  /** Additive causal mask [S, S]: 0 on and below the diagonal, a large negative number above. */
  private causalMask(S: number): tf.Tensor {
    const upper = tf.sub(tf.ones([S, S]), tf.linalg.bandPart(tf.ones([S, S]), -1, 0));
    return tf.mul(upper, -1e9);
  }

  /** Mean cross-entropy of the next-token targets (a scalar; call inside tf.tidy or variableGrads). */
  loss(batch: TfBatch): tf.Scalar {
    const { B, S } = batch;
    const c = this.config;
    const embed = this.weight('model.embed_tokens.weight');
    const mask = this.causalMask(S);
    let x = tf.gather(embed, batch.ids);
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}`;
      const xm = tf.add(x, this.attention(this.rmsnorm(x, `${p}.input_layernorm.weight`), p, B, S, mask));
      x = tf.add(xm, this.mlp(this.rmsnorm(xm, `${p}.post_attention_layernorm.weight`), p));
    }
    const head = c.tieWordEmbeddings ? embed : this.weight('lm_head.weight');
    const logits = tf.matMul(this.rmsnorm(x, 'model.norm.weight'), head, false, true);
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), batch.targetOneHot));
    return tf.div(tf.neg(picked), batch.targetCount) as tf.Scalar;
  }

  /** Loss and the gradient of every LoRA matrix, by PEFT key (the caller disposes them). */
  gradients(batch: TfBatch): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const { value, grads } = tf.variableGrads(
      () => this.loss(batch),
      this.params.map((p) => p.variable),
    );
    return { loss: value, grads: new Map(this.params.map((p) => [p.key, grads[p.variable.name]!])) };
  }

  dispose(): void {
    tf.dispose([...this.weights.values()]);
    for (const { cos, sin } of this.rope.values()) tf.dispose([cos, sin]);
    tf.dispose(this.params.map((p) => p.variable));
  }
}

/** AdamW with PyTorch's semantics and global-norm clipping, on tf.variables. */
export class TfAdamW {
  private readonly moments: { m: tf.Variable; v: tf.Variable }[];
  private step = 0;

  constructor(
    private readonly params: readonly TfParam[],
    private readonly hyper: TrainHyper,
  ) {
    this.moments = params.map((p) => ({
      m: tf.variable(tf.zerosLike(p.variable), false),
      v: tf.variable(tf.zerosLike(p.variable), false),
    }));
  }

  /** clip = min(1, maxNorm / (‖g‖ + 1e-6)); p ← p(1 − lr·wd) − (lr / bc1) · m / (√v / √bc2 + eps). */
  update(grads: ReadonlyMap<string, tf.Tensor>): void {
    this.step++;
    const h = this.hyper;
    const bc1 = 1 - h.beta1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - h.beta2 ** this.step);
    tf.tidy(() => {
      const gs = this.params.map((p) => grads.get(p.key)!);
      // Pairwise adds, not tf.addN: TF.js' AddN binds every input at once and, with more than
      // seven, exceeds the 8 storage buffers per stage of a default WebGPU device.
      const norm = tf.sqrt(gs.map((g) => tf.sum(tf.square(g))).reduce((sum, x) => tf.add(sum, x)));
      const clip = h.maxGradNorm > 0 ? tf.minimum(1, tf.div(h.maxGradNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
      this.params.forEach((p, i) => {
        const { m, v } = this.moments[i]!;
        const g = tf.mul(gs[i]!, clip);
        m.assign(tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1)));
        v.assign(tf.add(tf.mul(v, h.beta2), tf.mul(tf.square(g), 1 - h.beta2)));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), h.eps);
        p.variable.assign(tf.sub(tf.mul(p.variable, 1 - h.lr * h.weightDecay), tf.mul(tf.div(m, denom), h.lr / bc1)));
      });
    });
  }

  dispose(): void {
    for (const { m, v } of this.moments) tf.dispose([m, v]);
  }
}
