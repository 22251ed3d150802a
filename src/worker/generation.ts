/** One side of the studio's generation (the base or the adapted model), streamed to the page token by token. */
import type { Adapter } from '../adapters/types';
import { continuationText, generate } from '../generation/generate';
import type { GpuRuntime } from '../gpu/runtime';
import type { Transformer } from '../model/transformer';
import type { LoadedTokenizer } from '../tokenizer/load';
import { stopOf } from './generation-text';
import type { GenerationProgress, GenerationSettings, GenerationStop, StudioEvent, Which } from './protocol';

export interface GenerationSide {
  readonly rt: GpuRuntime;
  readonly which: Which;
  readonly transformer: Transformer;
  readonly adapter: Adapter | null;
  /** The tokenizer with the dataset's chat template, so that a model trained on ChatML is prompted in ChatML. */
  readonly tokenizer: LoadedTokenizer;
  /** The model folder's stop ids (generation_config, the tokenizer's EOS and end of turn). */
  readonly stopTokenIds: readonly number[];
  readonly post: (event: StudioEvent) => void;
}

export async function generateSide(side: GenerationSide, s: GenerationSettings): Promise<void> {
  const { tokenizer, which, post } = side;
  if (s.prompt === '') throw new Error('the prompt is empty');
  const chat = s.useChatTemplate && tokenizer.hasChatTemplate;
  const promptText = chat ? tokenizer.renderChat([{ role: 'user', content: s.prompt }], true) : s.prompt;
  const promptIds = tokenizer.encode(promptText);
  if (promptIds.length === 0) throw new Error('the prompt is empty');
  const decodedPrompt = tokenizer.decode(promptIds);
  const progress = (generated: readonly number[], done: boolean, stop: GenerationStop | null): GenerationProgress => ({
    text: continuationText(tokenizer.decode, promptIds, decodedPrompt, generated),
    tokens: generated.length,
    done,
    promptText,
    chat,
    stop,
  });
  const opts = {
    temperature: s.temperature,
    topK: s.topK,
    maxNewTokens: s.maxNewTokens,
    seed: s.seed,
    stopTokenIds: stopIdsWith(side.stopTokenIds, tokenizer.endOfTurnId),
  };
  const { ids: generated, stopId } = await generate(side.rt, side.transformer, side.adapter, promptIds, opts, (ids) => {
    post({ type: 'generation-update', which, progress: progress(ids, false, null) });
  });
  const stop = stopOf({
    stopId,
    endOfTurnId: tokenizer.endOfTurnId,
    tokenText: tokenizer.tokenText,
    generatedCount: generated.length,
    maxNewTokens: s.maxNewTokens,
  });
  post({ type: 'generation-update', which, progress: progress(generated, true, stop) });
}

/** What the adapted side shows while nothing is trained or imported. */
export const NO_ADAPTER_PROGRESS: GenerationProgress = {
  text: '(no adapter yet: train or import one)',
  tokens: 0,
  done: true,
  promptText: '',
  chat: false,
  stop: null,
};

function stopIdsWith(ids: readonly number[], endOfTurnId: number | null): number[] {
  return endOfTurnId === null || ids.includes(endOfTurnId) ? [...ids] : [...ids, endOfTurnId];
}
