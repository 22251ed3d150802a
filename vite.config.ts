import { defineConfig } from 'vite';

// The studio is a static page: the engine, its WGSL shaders and the worker are bundled by Vite.
export default defineConfig({
  server: { port: 5173, strictPort: false },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
