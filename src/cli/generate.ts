import { continuationText, generate } from '../generation/generate';
import { readAdapterFolder, readModelFolder } from '../formats/node-fs';
import { loadAdapter } from '../adapters/load';
import { cliRuntime, runtimeChoice } from './runtime';
import { Transformer } from '../model/transformer';
import { Flags } from './args';

/**
 * `generate --model DIR [--adapter DIR] --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--seed S]`:
 * the studio's generation (same tokenizer, same sampling) from the command line; prints the continuation.
 * A flag not given takes the model's generation_config.json default, else greedy and 40 tokens.
 */
export async function runGenerate(argv: string[]): Promise<void> {
  const flags = new Flags('generate', argv, { values: ['model', 'adapter', 'prompt', 'max-tokens', 'temperature', 'top-k', 'seed'] });
  const runtime = runtimeChoice(flags);
  const folder = await readModelFolder(flags.string('model'), { tokenizer: true });
  const prompt = flags.string('prompt');
  const adapterDir = flags.optionalString('adapter');
  const adapterFolder = adapterDir ? await readAdapterFolder(adapterDir, folder.config) : null; // checked before the GPU starts
  const defaults = folder.generationDefaults;
  const opts = {
    maxNewTokens: flags.positiveInt('max-tokens', defaults.maxNewTokens ?? 40),
    temperature: flags.number('temperature', defaults.temperature ?? 0, (v) => v >= 0, 'a number ≥ 0'),
    topK: flags.number('top-k', defaults.topK ?? 0, (v) => Number.isSafeInteger(v) && v >= 0, 'an integer ≥ 0'),
    seed: flags.number('seed', 0, Number.isSafeInteger, 'an integer'),
    stopTokenIds: folder.stopTokenIds,
  };
  const rt = await cliRuntime(runtime);
  try {
    const model = new Transformer(rt, folder.config, folder.weights);
    const adapter = adapterFolder ? await loadAdapter(rt, model, adapterFolder.spec, adapterFolder.tensors, adapterDir!) : null;
    const promptIds = folder.tokenizer.encode(prompt);
    const { ids } = await generate(rt, model, adapter, promptIds, opts, () => undefined);
    const decode = folder.tokenizer.decode;
    process.stdout.write(`${prompt}${continuationText(decode, promptIds, decode(promptIds), ids)}\n`);
    adapter?.destroy(rt);
    model.destroy();
  } finally {
    rt.destroy();
  }
}
