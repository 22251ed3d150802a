/**
 * Writes public/models/dev-tiny: a tiny random-initialised Llama (hidden 64, 2 layers, 4 heads,
 * 2 kv heads, intermediate 128) with a byte-level BPE tokenizer (256 byte tokens, no merges, one
 * <|endoftext|> special token). For development and e2e tests only, until the bundled model lands.
 * Reproducible: the weights come from a fixed-seed generator.   Run: npx tsx scripts/make-dev-model.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normals, seededRandom } from '../src/adapters/init';
import { expectedWeights, parseModelConfig } from '../src/formats/hf-config';
import { writeSafetensors } from '../src/formats/safetensors';

const OUT_DIR = join(import.meta.dirname, '..', 'public', 'models', 'dev-tiny');
const SEED = 1234;
const INIT_STD = 0.02; // LlamaConfig.initializer_range
const EOS_ID = 256;

const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  vocab_size: 257,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: true,
  bos_token_id: EOS_ID,
  eos_token_id: EOS_ID,
  torch_dtype: 'float32',
  _name_or_path: 'dev-tiny',
};

/** GPT-2's byte → printable-unicode table, which ByteLevel pre-tokenizers use. */
function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return table;
}

function tokenizerJson(): object {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => {
    vocab[ch] = b;
  });
  vocab['<|endoftext|>'] = EOS_ID;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: EOS_ID, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

const TOKENIZER_CONFIG = {
  tokenizer_class: 'PreTrainedTokenizerFast',
  bos_token: null,
  eos_token: '<|endoftext|>',
  model_max_length: 256,
  // HF renders chat templates with trim_blocks, so newlines are written as Jinja string literals.
  chat_template:
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] }}" +
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
};

function weights(): { name: string; shape: number[]; data: Float32Array }[] {
  const config = parseModelConfig(JSON.stringify(CONFIG), 'config.json');
  const random = seededRandom(SEED);
  return expectedWeights(config)
    .filter((w) => !w.optional)
    .map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const isNorm = w.shape.length === 1;
      return { name: w.key, shape: w.shape, data: isNorm ? new Float32Array(n).fill(1) : normals(n, INIT_STD, random) };
    });
}

mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(join(OUT_DIR, 'config.json'), `${JSON.stringify(CONFIG, null, 2)}\n`);
writeFileSync(join(OUT_DIR, 'tokenizer.json'), `${JSON.stringify(tokenizerJson())}\n`);
writeFileSync(join(OUT_DIR, 'tokenizer_config.json'), `${JSON.stringify(TOKENIZER_CONFIG, null, 2)}\n`);
writeFileSync(join(OUT_DIR, 'model.safetensors'), writeSafetensors(weights(), { format: 'pt' }));
console.log(`wrote ${OUT_DIR}`);
