import { defineConfig } from 'vite';

// The studio is a static page: the engine, its WGSL shaders and the worker are bundled by Vite.
// `server.fs.allow` lets the dev server read ../shared fixtures in development only.
export default defineConfig({
  server: { port: 5173, strictPort: false },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
