/**
 * Why a generation ended, as the Generate panel says it (the new text itself is
 * generation/generate.ts continuationText). Pure, so it is tested without a GPU.
 */
import type { GenerationStop } from './protocol';

export interface StopFacts {
  /** The stop token that ended the generation (not part of `generated`), or null. */
  readonly stopId: number | null;
  readonly endOfTurnId: number | null;
  readonly tokenText: (id: number) => string | null;
  readonly generatedCount: number;
  readonly maxNewTokens: number;
}

/** Why a generation that has finished stopped. */
export function stopOf(f: StopFacts): GenerationStop {
  if (f.stopId !== null) {
    return { reason: f.stopId === f.endOfTurnId ? 'end-of-turn' : 'eos', token: f.tokenText(f.stopId) ?? `token ${f.stopId}` };
  }
  return { reason: f.generatedCount >= f.maxNewTokens ? 'max-tokens' : 'positions' };
}

/** The panel's note on a finished generation. */
export function stopNote(stop: GenerationStop | null, tokens: number): string | null {
  if (stop === null) return null;
  switch (stop.reason) {
    case 'end-of-turn':
      return tokens === 0
        ? `no tokens: the model's first choice was the end-of-turn token ${stop.token}, so it ended its turn at once`
        : `stopped at end of turn (${stop.token})`;
    case 'eos':
      return tokens === 0 ? `no tokens: the model's first choice was the end-of-sequence token ${stop.token}` : `stopped at ${stop.token}`;
    case 'max-tokens':
      return `stopped at the limit of ${tokens} new tokens`;
    case 'positions':
      return `stopped at the model's last position (max_position_embeddings) after ${tokens} tokens`;
  }
}
