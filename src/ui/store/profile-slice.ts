import type { StateCreator } from 'zustand';
import type { KernelTime } from '../../gpu/profiler';
import type { StudioState } from './store';

/** `?profile` in the page's address turns on per-kernel GPU timing (timestamp-query) in the worker. */
export function profileRequested(): boolean {
  return new URLSearchParams(globalThis.location?.search ?? '').has('profile');
}

export interface ProfileSlice {
  profileEnabled: boolean;
  /** Kernel times summed over the training steps so far, most expensive first. */
  kernelProfile: { step: number; kernels: readonly KernelTime[] } | null;
  profileError: string | null;
  profileReceived(step: number, kernels: readonly KernelTime[]): void;
  profileUnavailable(reason: string): void;
}

export const createProfileSlice: StateCreator<StudioState, [], [], ProfileSlice> = (set) => ({
  profileEnabled: profileRequested(),
  kernelProfile: null,
  profileError: null,
  profileReceived: (step, kernels) => set({ kernelProfile: { step, kernels }, profileError: null }),
  profileUnavailable: (reason) => set({ profileError: reason }),
});
