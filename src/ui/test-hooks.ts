/**
 * With `?testHooks` in the address, `window.__studio` lets end-to-end tests reach what no control
 * does: the losses at full precision (the chart's attributes round them) and a lost GPU device
 * in the middle of a step (the worker destroys its device, as a driver reset would lose it).
 */
import type { StudioState } from './store/store';
import { send } from './worker-client';

export interface StudioTestHooks {
  losses(): number[];
  loseDevice(): void;
}

export function installTestHooks(state: () => StudioState): void {
  if (!new URLSearchParams(globalThis.location?.search ?? '').has('testHooks')) return;
  const hooks: StudioTestHooks = {
    losses: () => [...state().history.losses],
    loseDevice: () => send({ type: 'simulate-device-loss' }),
  };
  (globalThis as { __studio?: StudioTestHooks }).__studio = hooks;
}
