/**
 * Tiny random Qwen3- and Gemma-3-shaped model folders, as save_pretrained would write them
 * (config.json, model.safetensors with HF key names, tokenizer.json, tokenizer_config.json with
 * the family's chat template, generation_config.json), for the e2e tests (which write them into a
 * temp folder at test time) and for trying the studio by hand.
 *
 *   npx tsx scripts/make-tiny-family-models.ts [out-dir]     (default: ./tiny-family-models)
 *
 * Both have head_dim ≠ hidden / heads (hidden 32, 4 heads of 16, 2 kv heads), q/k norms, tied
 * embeddings and 2 layers; Gemma 3 adds GeGLU, four norms a layer, query_pre_attn_scalar and a
 * sliding-window layer. The tokenizer is a byte-level BPE trained on chat-ish text plus the
 * family's special tokens; config vocab_size is padded past the tokenizer's, as real checkpoints are.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { normals, seededRandom } from '../src/adapters/init';
import { expectedWeights, parseModelConfig } from '../src/formats/hf-config';
import { writeSafetensors } from '../src/formats/safetensors';
import { bpeTokenizerJson, trainBpe } from '../src/tokenizer/bpe-trainer';

/** ChatML as Qwen models write it (Qwen2.5's template without its default system message and tools). */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Gemma 3's chat template (text only): bos, alternating user / model turns ended by <end_of_turn>. */
export const GEMMA_TEMPLATE =
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first_user_prefix = messages[0]['content'] + '\\n\\n' %}" +
  "{% set loop_messages = messages[1:] %}{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}" +
  "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
  "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";

export interface TinyModel {
  readonly name: string;
  /** file name → contents */
  readonly files: Record<string, string | Uint8Array>;
  /** Special token → id. */
  readonly special: Record<string, number>;
}

const BPE_CORPUS = [
  'user',
  'assistant',
  'model',
  'system',
  'Hello',
  'How are you?',
  'What is this?',
  'Is it blue?',
  'ok',
  'yes',
  'no',
  'The quick brown fox jumps over the lazy dog.',
  'Tell me a story.',
  'Where is the sky?',
]
  .join('\n')
  .repeat(4);

/** A trained byte-level BPE (real merges) with `specials` appended as added tokens after <|endoftext|>. */
function tokenizer(specials: readonly string[]): { json: object; special: Record<string, number>; size: number } {
  const bpe = trainBpe(BPE_CORPUS, 320);
  const json = bpeTokenizerJson(bpe) as { added_tokens: object[]; model: { vocab: Record<string, number> } };
  const special: Record<string, number> = { '<|endoftext|>': bpe.vocab.size };
  let next = bpe.vocab.size + 1;
  for (const content of specials) {
    if (content in special) continue;
    special[content] = next;
    json.model.vocab[content] = next;
    json.added_tokens.push({ id: next, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    next++;
  }
  return { json, special, size: next };
}

/** Every weight the config implies (lm_head left out: tied), normal(0, 0.05); norms 1, or 0 in Gemma's (1 + w) form. */
function weightsFile(config: Record<string, unknown>, seed: number): Uint8Array {
  const parsed = parseModelConfig(JSON.stringify(config), 'config.json');
  const random = seededRandom(seed);
  const tensors = expectedWeights(parsed)
    .filter((w) => !w.optional)
    .map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const norm = /(norm|ln_\w+)\.weight$/.test(w.key);
      const data = norm ? new Float32Array(n).fill(parsed.normWeightOffset === 1 ? 0 : 1) : normals(n, 0.05, random);
      return { name: w.key, shape: w.shape, data };
    });
  return writeSafetensors(tensors, { format: 'pt' });
}

const paddedVocab = (n: number) => Math.ceil(n / 16) * 16;
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export function tinyQwen3(): TinyModel {
  const tok = tokenizer(['<|im_start|>', '<|im_end|>']);
  const { special } = tok;
  const config = {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    _name_or_path: 'tiny-qwen3',
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    hidden_act: 'silu',
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 1_000_000,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0,
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: 2,
    tie_word_embeddings: true,
    vocab_size: paddedVocab(tok.size),
    bos_token_id: special['<|endoftext|>'],
    eos_token_id: special['<|im_end|>'],
    torch_dtype: 'float32',
  };
  return {
    name: 'tiny-qwen3',
    special,
    files: {
      'config.json': json(config),
      'model.safetensors': weightsFile(config, 31),
      'tokenizer.json': JSON.stringify(tok.json),
      'tokenizer_config.json': json({
        tokenizer_class: 'Qwen2Tokenizer',
        bos_token: null,
        eos_token: '<|im_end|>',
        pad_token: '<|endoftext|>',
        model_max_length: 128,
        chat_template: CHATML_TEMPLATE,
      }),
      'generation_config.json': json({
        bos_token_id: special['<|endoftext|>'],
        eos_token_id: [special['<|im_end|>'], special['<|endoftext|>']],
        pad_token_id: special['<|endoftext|>'],
        do_sample: true,
        temperature: 0.6,
        top_k: 20,
        top_p: 0.95,
      }),
    },
  };
}

export function tinyGemma3(): TinyModel {
  const tok = tokenizer(['<pad>', '<eos>', '<bos>', '<start_of_turn>', '<end_of_turn>']);
  const { special } = tok;
  const config = {
    architectures: ['Gemma3ForCausalLM'],
    model_type: 'gemma3_text',
    _name_or_path: 'tiny-gemma3',
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: 16,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 1_000_000,
    rope_local_base_freq: 10_000,
    rope_scaling: null,
    sliding_window: 4,
    layer_types: ['sliding_attention', 'full_attention'],
    final_logit_softcapping: null,
    attn_logit_softcapping: null,
    attention_bias: false,
    tie_word_embeddings: true,
    vocab_size: paddedVocab(tok.size),
    bos_token_id: special['<bos>'],
    eos_token_id: [special['<eos>'], special['<end_of_turn>']],
    pad_token_id: special['<pad>'],
    torch_dtype: 'float32',
  };
  return {
    name: 'tiny-gemma3',
    special,
    files: {
      'config.json': json(config),
      'model.safetensors': weightsFile(config, 32),
      'tokenizer.json': JSON.stringify(tok.json),
      'tokenizer_config.json': json({
        tokenizer_class: 'GemmaTokenizer',
        bos_token: '<bos>',
        eos_token: '<eos>',
        pad_token: '<pad>',
        model_max_length: 128,
        chat_template: GEMMA_TEMPLATE,
      }),
      'generation_config.json': json({
        bos_token_id: special['<bos>'],
        eos_token_id: [special['<eos>'], special['<end_of_turn>']],
        pad_token_id: special['<pad>'],
        do_sample: true,
        top_k: 64,
        top_p: 0.95,
      }),
    },
  };
}

/** A tiny GPT-2 (Conv1D c_attn / c_proj / c_fc) with the same kind of tokenizer, no chat template. */
export interface Gpt2Shape {
  readonly name: string;
  readonly embd: number;
  readonly heads: number;
  readonly layers: number;
  /** vocab_size; by default the tokenizer's size, padded. A larger one pads the embedding with rows no token uses. */
  readonly vocab?: number;
}

/**
 * GPT-2 124M's vocabulary and width on one layer: its embedding [50257, 768] (147 MiB in f32) is
 * larger than WebGPU's default 128 MiB binding, the case of a small device.
 */
export const WIDE_VOCAB_GPT2: Gpt2Shape = { name: 'wide-vocab-gpt2', embd: 768, heads: 12, layers: 1, vocab: 50_257 };

export function tinyGpt2(shape: Gpt2Shape = { name: 'tiny-gpt2', embd: 32, heads: 4, layers: 2 }): TinyModel {
  const tok = tokenizer([]);
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    _name_or_path: shape.name,
    n_embd: shape.embd,
    n_head: shape.heads,
    n_layer: shape.layers,
    n_positions: 128,
    n_ctx: 128,
    vocab_size: shape.vocab ?? paddedVocab(tok.size),
    layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new',
    tie_word_embeddings: true,
    bos_token_id: tok.special['<|endoftext|>'],
    eos_token_id: tok.special['<|endoftext|>'],
    torch_dtype: 'float32',
  };
  return {
    name: shape.name,
    special: tok.special,
    files: {
      'config.json': json(config),
      'model.safetensors': weightsFile(config, 33),
      'tokenizer.json': JSON.stringify(tok.json),
      'tokenizer_config.json': json({
        tokenizer_class: 'GPT2Tokenizer',
        bos_token: '<|endoftext|>',
        eos_token: '<|endoftext|>',
        model_max_length: 128,
      }),
    },
  };
}

/** Writes the model as `<dir>/<folderName>/...` (the model's name by default); returns that folder. */
export function writeTinyModel(dir: string, model: TinyModel, folderName = model.name): string {
  const folder = join(dir, folderName);
  mkdirSync(folder, { recursive: true });
  for (const [name, contents] of Object.entries(model.files)) writeFileSync(join(folder, name), contents);
  return folder;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = resolve(process.argv[2] ?? 'tiny-family-models');
  for (const m of [tinyQwen3(), tinyGemma3(), tinyGpt2()]) console.log(writeTinyModel(out, m));
}
