import type { StudioEvent } from './protocol';

/**
 * Pause, resume and stop for a training loop in the worker: the page's messages flip the flags,
 * and the loop awaits between steps while paused (so a pause takes effect between steps).
 */
export class RunControl {
  paused = false;
  stopped = false;
  private wake: (() => void) | null = null;

  constructor(private readonly post: (event: StudioEvent) => void) {}

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wakeUp();
  }

  stop(): void {
    this.stopped = true;
    this.wakeUp();
  }

  /** Tells the page, waits until resumed or stopped, and returns the milliseconds spent paused. */
  async waitWhilePaused(step: number, reason: 'user' | 'non-finite-loss', message: string): Promise<number> {
    const since = performance.now();
    this.post({ type: 'train-paused', step, reason, message });
    while (this.paused && !this.stopped) await new Promise<void>((resolve) => (this.wake = resolve));
    if (!this.stopped) this.post({ type: 'train-resumed', step });
    return performance.now() - since;
  }

  /** A non-finite loss pauses the run with an explanation; returns the milliseconds paused. */
  pauseOnNonFinite(loss: number, step: number): Promise<number> {
    if (Number.isFinite(loss)) return Promise.resolve(0);
    this.paused = true;
    return this.waitWhilePaused(
      step,
      'non-finite-loss',
      `The training loss became ${loss} at step ${step}; the run is paused. Lower the learning rate, then stop and start again, or resume to continue anyway.`,
    );
  }

  private wakeUp(): void {
    this.wake?.();
    this.wake = null;
  }
}
