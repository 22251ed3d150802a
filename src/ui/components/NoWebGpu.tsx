import { useStudio } from '../store/store';

export function NoWebGpu() {
  const status = useStudio((s) => s.gpuStatus);
  const reason = status.kind === 'unavailable' ? status.reason : '';
  return (
    <div className="no-webgpu" role="alert" data-testid="no-webgpu">
      <h1>WebGPU is not available</h1>
      <p>
        The studio trains models on your GPU through <strong>WebGPU</strong>, and this browser did not provide it ({reason}).
      </p>
      <h2>Browsers with WebGPU</h2>
      <ul>
        <li>Chrome and Edge 113 or newer on Windows, macOS and ChromeOS; Chrome 121+ on Android.</li>
        <li>
          Chrome on Linux: enable <code>chrome://flags/#enable-unsafe-webgpu</code> (and Vulkan).
        </li>
        <li>Safari 26 on macOS, iOS and iPadOS.</li>
        <li>
          Firefox 141 or newer on Windows (other platforms behind <code>dom.webgpu.enabled</code>).
        </li>
      </ul>
      <p>Also check that hardware acceleration is on and that the page is served over HTTPS or from localhost.</p>
    </div>
  );
}
