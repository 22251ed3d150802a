/**
 * Plain float64 CPU references for the kernels in src/kernels (llm.c style): every forward
 * kernel is compared with one of these, and every backward kernel with both the analytic
 * backward here and a central finite difference of the forward here.
 *
 * They are written from the math, not from the WGSL, so that a kernel bug cannot hide in a
 * reference that copies it.
 */

type Arr = ArrayLike<number>;

// ---- norms --------------------------------------------------------------------------------

/** y = rmsnorm(x) · (w + weightOffset): Gemma's norms scale by (1 + w), weightOffset 1. */
export function rmsnormFwdRef(
  x: Arr,
  w: Arr,
  T: number,
  C: number,
  eps: number,
  weightOffset = 0,
): { y: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(T * C);
  const rstd = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[t * C + c]! * x[t * C + c]!;
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[t] = r;
    for (let c = 0; c < C; c++) y[t * C + c] = x[t * C + c]! * r * (w[c]! + weightOffset);
  }
  return { y, rstd };
}

/**
 * dx for y = rmsnorm(x)·(w + weightOffset), by the chain rule through r = (mean(x²) + eps)^(−1/2).
 */
export function rmsnormBwdRef(x: Arr, w: Arr, dy: Arr, T: number, C: number, eps: number, dres?: Arr, weightOffset = 0): Float64Array {
  const dx = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[t * C + c]! ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    // With g_c = w_c + offset: dL/dr = Σ_c dy_c g_c x_c;  dr/dx_c = −r³ x_c / C
    let dLdr = 0;
    for (let c = 0; c < C; c++) dLdr += dy[t * C + c]! * (w[c]! + weightOffset) * x[t * C + c]!;
    for (let c = 0; c < C; c++) {
      const i = t * C + c;
      dx[i] = dy[i]! * (w[c]! + weightOffset) * r + (dLdr * (-(r ** 3) * x[i]!)) / C + (dres ? dres[i]! : 0);
    }
  }
  return dx;
}

export function layernormFwdRef(
  x: Arr,
  w: Arr,
  b: Arr,
  T: number,
  C: number,
  eps: number,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(T * C);
  const mean = new Float64Array(T);
  const rstd = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[t * C + c]!;
    const m = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[t * C + c]! - m) ** 2;
    const r = 1 / Math.sqrt(v / C + eps);
    mean[t] = m;
    rstd[t] = r;
    for (let c = 0; c < C; c++) y[t * C + c] = (x[t * C + c]! - m) * r * w[c]! + b[c]!;
  }
  return { y, mean, rstd };
}

/** dx for y = layernorm(x)·w + b, through mean and variance explicitly. */
export function layernormBwdRef(x: Arr, w: Arr, dy: Arr, T: number, C: number, eps: number, dres?: Arr): Float64Array {
  const dx = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[t * C + c]!;
    const m = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[t * C + c]! - m) ** 2;
    v /= C;
    const r = 1 / Math.sqrt(v + eps);
    // y_c = (x_c − m) r w_c + b_c.  dL/dxhat_c = dy_c w_c = g_c.
    // dL/dv = Σ g_c (x_c − m) · (−½)(v+eps)^(−3/2);  dL/dm = Σ −g_c r (+ dL/dv·(−2/C)Σ(x−m) = 0)
    let dLdv = 0;
    let dLdm = 0;
    for (let c = 0; c < C; c++) {
      const g = dy[t * C + c]! * w[c]!;
      dLdv += g * (x[t * C + c]! - m) * -0.5 * r ** 3;
      dLdm += -g * r;
    }
    for (let c = 0; c < C; c++) {
      const i = t * C + c;
      const g = dy[i]! * w[c]!;
      dx[i] = g * r + (dLdv * 2 * (x[i]! - m)) / C + dLdm / C + (dres ? dres[i]! : 0);
    }
  }
  return dx;
}

// ---- activations --------------------------------------------------------------------------

const GELU_K = Math.sqrt(2 / Math.PI);

export function geluRef(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_K * (x + 0.044715 * x ** 3)));
}

export function geluGradRef(x: number): number {
  const u = GELU_K * (x + 0.044715 * x ** 3);
  const th = Math.tanh(u);
  const du = GELU_K * (1 + 3 * 0.044715 * x * x);
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du;
}

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

export function swigluRef(gate: Arr, up: Arr): Float64Array {
  const h = new Float64Array(gate.length);
  for (let i = 0; i < h.length; i++) h[i] = gate[i]! * sigmoid(gate[i]!) * up[i]!;
  return h;
}

export function swigluBwdRef(gate: Arr, up: Arr, dh: Arr): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const s = sigmoid(gate[i]!);
    // d/dg [g σ(g)] = σ + g σ (1 − σ)
    dgate[i] = dh[i]! * up[i]! * (s + gate[i]! * s * (1 - s));
    dup[i] = dh[i]! * gate[i]! * s;
  }
  return { dgate, dup };
}

/** GeGLU (Gemma): h = gelu_tanh(gate) · up. */
export function gegluRef(gate: Arr, up: Arr): Float64Array {
  const h = new Float64Array(gate.length);
  for (let i = 0; i < h.length; i++) h[i] = geluRef(gate[i]!) * up[i]!;
  return h;
}

export function gegluBwdRef(gate: Arr, up: Arr, dh: Arr): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    dgate[i] = dh[i]! * up[i]! * geluGradRef(gate[i]!);
    dup[i] = dh[i]! * geluRef(gate[i]!);
  }
  return { dgate, dup };
}

// ---- RoPE ---------------------------------------------------------------------------------

/**
 * HF rotate_half RoPE on rows of stride ld (only the first heads·D columns change), angles
 * computed directly: pos·θ^(−2i/D) with pos = pos0 + t mod S. inverse rotates by −angle.
 */
export function ropeRef(
  x: Arr,
  T: number,
  S: number,
  heads: number,
  D: number,
  ld: number,
  theta: number,
  inverse = false,
  pos0 = 0,
): Float64Array {
  const invFreq = Array.from({ length: D / 2 }, (_, i) => theta ** ((-2 * i) / D));
  return ropeFreqRef(x, T, S, heads, D, ld, invFreq, inverse, pos0);
}

/** ropeRef with the inverse frequencies given (rescaled ones: linear, Llama 3). */
export function ropeFreqRef(
  x: Arr,
  T: number,
  S: number,
  heads: number,
  D: number,
  ld: number,
  invFreq: Arr,
  inverse = false,
  pos0 = 0,
): Float64Array {
  const out = Float64Array.from(x);
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    const pos = pos0 + (t % S);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        const a = pos * invFreq[i]! * (inverse ? -1 : 1);
        const at = t * ld + h * D + i;
        const x1 = x[at]!;
        const x2 = x[at + half]!;
        out[at] = x1 * Math.cos(a) - x2 * Math.sin(a);
        out[at + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
      }
    }
  }
  return out;
}

// ---- attention ----------------------------------------------------------------------------

export interface AttnLayoutRef {
  B: number;
  S: number;
  H: number;
  KVH: number;
  D: number;
  ldq: number;
  ldk: number;
  ldv: number;
  qOff: number;
  kOff: number;
  vOff: number;
  /** Scores are multiplied by this; 1/√D when absent. */
  scale?: number;
  /** Sliding window: query i sees keys j with i − j < window; absent or 0 for full causal. */
  window?: number;
}

/** The keys query i attends to: j0 ≤ j ≤ i. */
function attnFirstKey(L: AttnLayoutRef, i: number): number {
  const w = L.window ?? 0;
  return w > 0 ? Math.max(0, i - w + 1) : 0;
}

/** Element indices of q (head h), k and v (kv head g) at row (b, position) in their layouts. */
function attnIndexers(L: AttnLayoutRef) {
  const { S, D } = L;
  return {
    qi: (b: number, i: number, h: number, d: number) => (b * S + i) * L.ldq + L.qOff + h * D + d,
    ki: (b: number, j: number, g: number, d: number) => (b * S + j) * L.ldk + L.kOff + g * D + d,
    vi: (b: number, j: number, g: number, d: number) => (b * S + j) * L.ldv + L.vOff + g * D + d,
  };
}

/**
 * o [B·S, H·D] and P [B, H, S, S] (0 above the diagonal and before the sliding window) of
 * causal GQA attention.
 */
export function attentionFwdRef(q: Arr, k: Arr, v: Arr, L: AttnLayoutRef): { o: Float64Array; p: Float64Array } {
  const { B, S, H, KVH, D } = L;
  const o = new Float64Array(B * S * H * D);
  const p = new Float64Array(B * H * S * S);
  const scale = L.scale ?? 1 / Math.sqrt(D);
  const { qi, ki, vi } = attnIndexers(L);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KVH));
      for (let i = 0; i < S; i++) {
        const j0 = attnFirstKey(L, i);
        const s = new Float64Array(i + 1);
        let mx = -Infinity;
        for (let j = j0; j <= i; j++) {
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q[qi(b, i, h, d)]! * k[ki(b, j, g, d)]!;
          s[j] = acc * scale;
          mx = Math.max(mx, s[j]!);
        }
        let sum = 0;
        for (let j = j0; j <= i; j++) sum += Math.exp(s[j]! - mx);
        const prow = ((b * H + h) * S + i) * S;
        for (let j = j0; j <= i; j++) p[prow + j] = Math.exp(s[j]! - mx) / sum;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = j0; j <= i; j++) acc += p[prow + j]! * v[vi(b, j, g, d)]!;
          o[(b * S + i) * H * D + h * D + d] = acc;
        }
      }
    }
  }
  return { o, p };
}

/**
 * dq, dk, dv (each the size of the q, k, v arrays, in their layouts, zero elsewhere) for
 * upstream dout [B·S, H·D].
 */
export function attentionBwdRef(
  q: Arr,
  k: Arr,
  v: Arr,
  dout: Arr,
  L: AttnLayoutRef,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, S, H, KVH, D } = L;
  const { p } = attentionFwdRef(q, k, v, L);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const scale = L.scale ?? 1 / Math.sqrt(D);
  const { qi, ki, vi } = attnIndexers(L);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KVH));
      for (let i = 0; i < S; i++) {
        const prow = ((b * H + h) * S + i) * S;
        const orow = (b * S + i) * H * D + h * D;
        // Only keys j0 ≤ j ≤ i enter the softmax; the others get no gradient from row i.
        const j0 = attnFirstKey(L, i);
        // o_i = Σ_j P_ij v_j  ⇒  dv_j += P_ij do_i,  dP_ij = do_i · v_j
        const dp = new Float64Array(i + 1);
        for (let j = j0; j <= i; j++) {
          for (let d = 0; d < D; d++) {
            dv[vi(b, j, g, d)]! += p[prow + j]! * dout[orow + d]!;
            dp[j]! += dout[orow + d]! * v[vi(b, j, g, d)]!;
          }
        }
        // softmax Jacobian: dS_ij = Σ_k dP_ik P_ik (δ_jk − P_ij)
        let pdp = 0;
        for (let j = j0; j <= i; j++) pdp += p[prow + j]! * dp[j]!;
        for (let j = j0; j <= i; j++) {
          const ds = p[prow + j]! * (dp[j]! - pdp) * scale;
          for (let d = 0; d < D; d++) {
            dq[qi(b, i, h, d)]! += ds * k[ki(b, j, g, d)]!;
            dk[ki(b, j, g, d)]! += ds * q[qi(b, i, h, d)]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

// ---- loss ---------------------------------------------------------------------------------

/** Per-row loss logsumexp − logit[target] (0 for target −100) and d(Σ invCount·loss)/d logits. */
export function crossEntropyRef(
  logits: Arr,
  targets: ArrayLike<number>,
  T: number,
  V: number,
  invCount: number,
): { losses: Float64Array; grad: Float64Array } {
  const losses = new Float64Array(T);
  const grad = new Float64Array(T * V);
  for (let t = 0; t < T; t++) {
    const tg = targets[t];
    if (tg === -100) continue;
    let mx = -Infinity;
    for (let c = 0; c < V; c++) mx = Math.max(mx, logits[t * V + c]!);
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(logits[t * V + c]! - mx);
    const lse = mx + Math.log(s);
    losses[t] = lse - logits[t * V + tg!]!;
    for (let c = 0; c < V; c++) grad[t * V + c] = (Math.exp(logits[t * V + c]! - lse) - (c === tg ? 1 : 0)) * invCount;
  }
  return { losses, grad };
}

// ---- optimizer ----------------------------------------------------------------------------

export interface AdamWState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

/**
 * torch.optim.AdamW (amsgrad=False, maximize=False) for one step; step counts from 1.
 * With `f32Betas` the moment EMAs use β₁, β₂ rounded to float32, as they are when they reach
 * the GPU as uniforms (1 − fround(0.999) is 1.3e-5 off 0.001); the bias corrections stay in
 * float64, as the wrapper computes them on the CPU.
 */
export function adamwRef(
  s: AdamWState,
  grad: Arr,
  step: number,
  h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
  gradScale = 1,
  f32Betas = false,
): void {
  const bc1 = 1 - h.beta1 ** step;
  const bc2 = 1 - h.beta2 ** step;
  const b1 = f32Betas ? Math.fround(h.beta1) : h.beta1;
  const b2 = f32Betas ? Math.fround(h.beta2) : h.beta2;
  for (let i = 0; i < s.p.length; i++) {
    const g = grad[i]! * gradScale;
    s.p[i]! *= 1 - h.lr * h.weightDecay;
    s.m[i] = b1 * s.m[i]! + (1 - b1) * g;
    s.v[i] = b2 * s.v[i]! + (1 - b2) * g * g;
    const stepSize = h.lr / bc1;
    const denom = Math.sqrt(s.v[i]!) / Math.sqrt(bc2) + h.eps;
    s.p[i]! -= (stepSize * s.m[i]!) / denom;
  }
}

// ---- adapters -----------------------------------------------------------------------------

export function scaleColumnsRef(a: Arr, v: Arr, T: number, N: number, bias?: Arr, beta = 0, out0?: Arr): Float64Array {
  const out = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < N; j++) {
      const i = t * N + j;
      out[i] = a[i]! * v[j]! + (bias ? bias[j]! : 0) + (beta !== 0 && out0 ? beta * out0[i]! : 0);
    }
  }
  return out;
}

export function columnDotRef(a: Arr, b: Arr, T: number, N: number, scale?: Arr, beta = 0, out0?: Arr): Float64Array {
  const out = new Float64Array(N);
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += a[t * N + j]! * b[t * N + j]!;
    out[j] = s * (scale ? scale[j]! : 1) + (beta !== 0 && out0 ? beta * out0[j]! : 0);
  }
  return out;
}

/** 1/‖W_i + s·(B A)_i‖ over the input dimension, and m · that; W is [out, in] or [in, out]. */
export function doraNormRef(
  w: Arr,
  a: Arr,
  b: Arr,
  m: Arr,
  out: number,
  inF: number,
  r: number,
  s: number,
  fanInFanOut: boolean,
): { invNorm: Float64Array; scale: Float64Array } {
  const invNorm = new Float64Array(out);
  const scale = new Float64Array(out);
  for (let i = 0; i < out; i++) {
    let ss = 0;
    for (let j = 0; j < inF; j++) {
      let ba = 0;
      for (let k = 0; k < r; k++) ba += b[i * r + k]! * a[k * inF + j]!;
      const wij = fanInFanOut ? w[j * out + i]! : w[i * inF + j]!;
      ss += (wij + s * ba) ** 2;
    }
    invNorm[i] = 1 / Math.sqrt(ss);
    scale[i] = m[i]! * invNorm[i]!;
  }
  return { invNorm, scale };
}

// ---- embedding ----------------------------------------------------------------------------

/** out[t] = table[ids[t]] · scale (+ positions[pos0 + t mod S]). */
export function embeddingRef(
  ids: ArrayLike<number>,
  table: Arr,
  T: number,
  C: number,
  S: number,
  positions?: Arr,
  scale = 1,
  pos0 = 0,
): Float64Array {
  const out = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      out[t * C + c] = table[ids[t]! * C + c]! * scale + (positions ? positions[(pos0 + (t % S)) * C + c]! : 0);
    }
  }
  return out;
}

// ---- misc ---------------------------------------------------------------------------------

export function toF64(a: Arr): Float64Array {
  return Float64Array.from(a as ArrayLike<number>);
}
