/** The GPU device going away (a driver reset, a GPU unplugged, device.destroy()) as an error a run can end with. */

export class DeviceLostError extends Error {
  /** What the browser said (GPUDeviceLostInfo's message, else its reason). */
  readonly detail: string;

  constructor(reason: string, message: string) {
    // Without its closing period: the message is quoted inside a sentence.
    const detail = (message || reason).replace(/\.$/, '');
    super(`the GPU device was lost (${detail})`);
    this.name = 'DeviceLostError';
    this.detail = detail;
  }
}

/**
 * Rejects with a DeviceLostError once `device` is lost, whatever the reason: to this worker a
 * destroyed device is as gone as a lost one, and only a test destroys it on purpose. The
 * rejection is marked handled here, so a signal nobody races is no unhandled rejection.
 */
export function deviceLostSignal(device: GPUDevice): Promise<never> {
  const signal = device.lost.then((info): never => {
    throw new DeviceLostError(info.reason ?? 'unknown', info.message);
  });
  signal.catch(() => undefined);
  return signal;
}
