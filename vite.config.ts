import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * The studio's Content-Security-Policy: it loads and sends everything from its own origin and
 * nothing from anywhere else. Scripts, the worker, the bundled models and samples are same-origin
 * files; styles are the bundled CSS (React and uPlot set styles through the CSSOM, which CSP does not
 * restrict); the only image is the `data:` favicon; no fonts, frames or plugins; no WebAssembly (the
 * tokenizer and the template engine are plain JavaScript; onnxruntime-web is only the benchmark's).
 * Downloads are `blob:` links, which CSP does not govern. e2e/csp.spec.ts checks it holds on a full
 * flow with no violation and no request to another origin.
 */
const POLICY: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'worker-src': ["'self'"],
  'manifest-src': ["'self'"],
  'frame-src': ["'none'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
};

/**
 * What Vite's dev server adds: CSS injected as <style> elements, and the HMR websocket.
 * Only `npm run dev`; the built app never gets these.
 */
const DEV_EXTRA: Readonly<Record<string, readonly string[]>> = {
  'style-src': ["'unsafe-inline'"],
  'connect-src': ['ws://localhost:*', 'ws://127.0.0.1:*'],
};

/** The policy as one header or meta value; `frame-ancestors` only works in a header (a meta tag ignores it with a console error). */
export function contentSecurityPolicy(mode: 'build' | 'dev', delivery: 'meta' | 'header'): string {
  const directives: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(POLICY)) directives[k] = [...v, ...(mode === 'dev' ? (DEV_EXTRA[k] ?? []) : [])];
  if (delivery === 'header') directives['frame-ancestors'] = ["'none'"];
  return Object.entries(directives)
    .map(([k, v]) => `${k} ${v.join(' ')}`)
    .join('; ');
}

/**
 * Fills in the policy of the studio's index.html meta tag (`%STUDIO_CSP%`, right after the charset
 * and before any script, so it travels with the built files to any static host); other pages served
 * by the dev server (bench/index.html) are left alone. `vite preview` also sends it as a header,
 * which covers the worker script too (a worker takes its policy from its own response, not from
 * the page's meta tag).
 */
function cspPlugin(): Plugin {
  let mode: 'build' | 'dev' = 'build';
  let studioPage = '';
  return {
    name: 'studio-csp',
    configResolved(config) {
      mode = config.command === 'serve' ? 'dev' : 'build';
      studioPage = resolve(config.root, 'index.html');
    },
    transformIndexHtml: {
      order: 'pre',
      handler(html, ctx) {
        if (resolve(ctx.filename) !== studioPage) return html;
        if (!html.includes(CSP_PLACEHOLDER))
          throw new Error(`index.html: the Content-Security-Policy meta tag (${CSP_PLACEHOLDER}) is missing`);
        return html.replace(CSP_PLACEHOLDER, contentSecurityPolicy(mode, 'meta'));
      },
    },
  };
}

const CSP_PLACEHOLDER = '%STUDIO_CSP%';

// The studio is a static page: the engine, its WGSL shaders and the worker are bundled by Vite.
export default defineConfig({
  plugins: [cspPlugin()],
  server: { port: 5173, strictPort: false },
  preview: { headers: { 'Content-Security-Policy': contentSecurityPolicy('build', 'header') } },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
