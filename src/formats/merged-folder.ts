/**
 * A merged model as a complete Hugging Face folder: the weights are written in float32, so
 * config.json says so (a source checkpoint's "bfloat16" would make from_pretrained cast them
 * down, and make the folder's size look wrong), and the tokenizer files go with it.
 */

/** config.json with `torch_dtype` (and transformers ≥ 4.56's `dtype`, where present) set to float32. */
export function float32ConfigJson(configJson: string): string {
  const config = JSON.parse(configJson) as Record<string, unknown>;
  config.torch_dtype = 'float32';
  if ('dtype' in config) config.dtype = 'float32';
  return `${JSON.stringify(config, null, 2)}\n`;
}
