import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyGemma3, tinyGpt2, tinyQwen3, writeTinyModel } from '../scripts/make-tiny-family-models';
import { openStudio, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

// Tiny random Qwen3- and Gemma-3-shaped folders (hidden 32, 4 heads × head_dim 16, 2 kv heads,
// q/k norms, tied; Gemma: GeGLU, four norms, a sliding layer), written at test time.
let dir = '';
let qwen3Folder = '';
test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiny-families-'));
  qwen3Folder = writeTinyModel(dir, tinyQwen3());
  writeTinyModel(dir, tinyGemma3(), 'dropped-gemma');
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LLAMA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const MAX_TOKENS = 12;

/** Short answers, always "ok": the adapter learns to answer and end its turn. */
function chatJsonl(rows: number): string {
  const questions = ['Hello?', 'How are you?', 'What is this?', 'Is it blue?', 'Where is the sky?', 'Tell me a story.'];
  const lines = Array.from({ length: rows }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: questions[i % questions.length] },
        { role: 'assistant', content: 'ok' },
      ],
    }),
  );
  return `${lines.join('\n')}\n`;
}

/** Drags files or folders from disk onto the model drop zone, as a user does (through CDP's drag events). */
async function dropPaths(page: Page, paths: string[]): Promise<void> {
  const box = (await page.getByTestId('model-drop').boundingBox())!;
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const cdp = await page.context().newCDPSession(page);
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop'] as const) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  await cdp.detach();
}

async function expectTargets(page: Page): Promise<void> {
  const labels = page.getByTestId('target-modules').locator('label');
  await expect(labels).toHaveText(LLAMA_TARGETS);
}

async function trainAllTargets(page: Page): Promise<void> {
  await uploadDataset(page, 'chat.jsonl', chatJsonl(24));
  await expect(page.getByTestId('dataset-examples')).toHaveText('24');
  await expect(page.getByTestId('bad-rows')).toContainText('0 bad rows');
  await page.getByTestId('method-lora').check();
  for (const t of LLAMA_TARGETS) await page.getByTestId(`target-${t}`).check();
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'alpha', 8);
  await setNumber(page, 'lr', 0.05);
  await page.getByTestId('schedule').selectOption('constant');
  await setNumber(page, 'steps', 30);
  await setNumber(page, 'batch-size', 4);
  await setNumber(page, 'seq-len', 32);
  await setNumber(page, 'eval-every', 30);
  const started = Date.now();
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 180_000 });
  console.log(`trained 30 steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const first = Number(await page.getByTestId('loss-chart').getAttribute('data-first-loss'));
  const last = Number(await page.getByTestId('loss-chart').getAttribute('data-last-loss'));
  expect(last).toBeLessThan(first);
}

/** Generates with the chat template (on by default) and checks each side's stop note against its token count. */
async function chatGenerate(page: Page, turnStart: string, endOfTurn: string): Promise<void> {
  const useChat = page.getByTestId('use-chat-template');
  await expect(useChat).toBeVisible();
  await expect(useChat).toBeChecked();
  await page.getByTestId('prompt').fill('Hello?');
  await setNumber(page, 'max-tokens', MAX_TOKENS);
  await setNumber(page, 'temperature', 0);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-adapted')).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('output-base')).toHaveAttribute('data-done', 'true');
  for (const which of ['base', 'adapted']) {
    // The prompt went in as one user turn of the template.
    await expect(page.getByTestId(`output-${which}-prompt`)).toContainText(turnStart);
    const out = page.getByTestId(`output-${which}`);
    const tokens = Number(await out.getAttribute('data-tokens'));
    const stop = await out.getAttribute('data-stop');
    const note = page.getByTestId(`output-${which}-stop`);
    if (stop === 'max-tokens') {
      expect(tokens).toBe(MAX_TOKENS);
      await expect(note).toHaveText(`stopped at the limit of ${MAX_TOKENS} new tokens`);
    } else {
      expect(['end-of-turn', 'eos']).toContain(stop);
      expect(tokens).toBeLessThan(MAX_TOKENS);
      await expect(note).toContainText(tokens === 0 ? 'no tokens' : 'stopped at');
    }
  }
  // The trained adapter answers "ok" and ends its turn by itself.
  await expect(page.getByTestId('output-adapted')).toHaveAttribute('data-stop', 'end-of-turn');
  await expect(page.getByTestId('output-adapted-text')).toHaveText('ok');
  await expect(page.getByTestId('output-adapted-stop')).toHaveText(`stopped at end of turn (${endOfTurn})`);
}

test('a Qwen3-shaped folder opens through the folder picker, trains LoRA on q/k/v/o/gate/up/down and chats to end of turn', async ({
  page,
}) => {
  const watch = watchPage(page);
  await openStudio(page);
  await page.getByTestId('model-folder-input').setInputFiles(qwen3Folder);
  await expect(page.getByTestId('model-name')).toHaveText('tiny-qwen3');
  await expect(page.getByTestId('model-family')).toHaveText('qwen3');
  await expect(page.getByTestId('model-architecture')).toHaveText('Qwen3ForCausalLM');
  await expect(page.getByTestId('model-traits')).toContainText('q/k norms');
  await expect(page.getByTestId('model-shape')).toContainText('4 heads × 16 (2 kv)');
  await expect(page.getByTestId('model-facts')).toContainText("the tokenizer's own");
  await expectTargets(page);
  await screenshot(page, '15-qwen3-model', 'model-panel');

  await trainAllTargets(page);
  await chatGenerate(page, '<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\n', '<|im_end|>');
  await screenshot(page, '17-qwen3-chat-generate', 'generate-panel');

  // Without the template the prompt goes in as written.
  await page.getByTestId('use-chat-template').uncheck();
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-adapted')).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('output-adapted-prompt')).toHaveText('Hello?');
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});

test('a Gemma-3-shaped folder opens by drag and drop, trains and chats to <end_of_turn>', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  // A real drop of the folder (Chromium hands the page a directory entry, which DropZone walks);
  // the folder's own name, not config.json's _name_or_path, names the model.
  await dropPaths(page, [join(dir, 'dropped-gemma')]);
  await expect(page.getByTestId('model-name')).toHaveText('dropped-gemma');
  await expect(page.getByTestId('model-family')).toHaveText('gemma3_text');
  await expect(page.getByTestId('model-architecture')).toHaveText('Gemma3ForCausalLM');
  await expect(page.getByTestId('model-traits')).toContainText('four norms a layer');
  await expect(page.getByTestId('model-traits')).toContainText('sliding window 4 on 1 of 2 layers');
  await expectTargets(page);

  await trainAllTargets(page);
  await chatGenerate(page, '<start_of_turn>user\nHello?<end_of_turn>\n<start_of_turn>model\n', '<end_of_turn>');
  await screenshot(page, '16-gemma3-chat-generate', 'generate-panel');
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});

test('loose model files dropped without their folder load, named by config.json', async ({ page }) => {
  await openStudio(page);
  // Files the page itself drops (a DataTransfer holds no directory entries): DropZone takes dataTransfer.files.
  const files = readdirSync(qwen3Folder).map((name) => ({ name, base64: readFileSync(join(qwen3Folder, name)).toString('base64') }));
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
    return dt;
  }, files);
  await page.getByTestId('model-drop').dispatchEvent('dragover', { dataTransfer });
  await page.getByTestId('model-drop').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('model-name')).toHaveText('tiny-qwen3');
  await expect(page.getByTestId('model-family')).toHaveText('qwen3');
  await expectTargets(page);
});

test('a GPT-2 folder lists its own linear layers as targets and has no chat-template switch', async ({ page }) => {
  await openStudio(page);
  await page.getByTestId('model-folder-input').setInputFiles(writeTinyModel(dir, tinyGpt2()));
  await expect(page.getByTestId('model-name')).toHaveText('tiny-gpt2');
  await expect(page.getByTestId('model-family')).toHaveText('gpt2');
  await expect(page.getByTestId('target-modules').locator('label')).toHaveText(['c_attn', 'c_proj', 'c_fc']);
  await expect(page.getByTestId('target-c_attn')).toBeChecked();
  await expect(page.getByTestId('use-chat-template')).toHaveCount(0);
  await expect(page.getByTestId('model-facts')).toContainText('none (the default template is used)');
});
