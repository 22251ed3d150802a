/**
 * WebGPU reports a failed pipeline or command buffer as an error event, not an exception: the
 * work is skipped and a timing of it looks fast. Every measurement therefore runs inside error
 * scopes of the device it uses, and an error there turns the measurement into that error.
 */
const FILTERS: readonly GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

export async function failOnGpuErrors<T>(device: GPUDevice, run: () => Promise<T>): Promise<T> {
  for (const f of FILTERS) device.pushErrorScope(f);
  let outcome: { value: T } | { thrown: unknown };
  try {
    outcome = { value: await run() };
  } catch (e) {
    outcome = { thrown: e };
  }
  const messages: string[] = [];
  for (let i = 0; i < FILTERS.length; i++) {
    const error = await device.popErrorScope();
    if (error) messages.push(error.message);
  }
  if (messages.length > 0) throw new Error(`WebGPU error: ${messages.join('; ')}`);
  if ('thrown' in outcome) throw outcome.thrown;
  return outcome.value;
}
