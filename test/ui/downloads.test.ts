/**
 * The studio's downloads are complete or absent: each is built fully in memory and offered once,
 * as one Blob, only after that; a download that cannot be built offers nothing and says why.
 */
import { unzipSync } from 'fflate';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { downloadExport, prepareDownload } from '../../src/ui/downloads';

interface Offered {
  readonly fileName: string;
  readonly blob: Blob;
}

/** A stand-in for the page: records every link clicked, with the Blob behind its URL. */
function fakePage(): Offered[] {
  const offered: Offered[] = [];
  const blobs = new Map<string, Blob>();
  let n = 0;
  vi.spyOn(URL, 'createObjectURL').mockImplementation((b) => {
    const url = `blob:test/${n++}`;
    blobs.set(url, b as Blob);
    return url;
  });
  vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => undefined);
  const body = { appendChild: () => undefined };
  vi.stubGlobal('document', {
    body,
    createElement: () => {
      const a = {
        href: '',
        download: '',
        click: () => offered.push({ fileName: a.download, blob: blobs.get(a.href)! }),
        remove: () => undefined,
      };
      return a;
    },
  });
  return offered;
}

const weights = new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 1, 2, 3]);
const config = '{"peft_type": "LORA"}';

describe('downloads', () => {
  let offered: Offered[];
  beforeEach(() => {
    vi.useFakeTimers();
    offered = fakePage();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('the adapter zip is offered once, complete, with both files', async () => {
    expect(downloadExport('zip', weights, config)).toBeNull();
    expect(offered.map((o) => o.fileName)).toEqual(['adapter.zip']);
    const files = unzipSync(new Uint8Array(await offered[0]!.blob.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect([...files['adapter_model.safetensors']!]).toEqual([...weights]);
    expect(new TextDecoder().decode(files['adapter_config.json'])).toBe(config);
  });

  it('the merged folder zip holds the tokenizer files too', () => {
    const d = prepareDownload('merged-zip', weights, '{}', [{ name: 'tokenizer.json', text: '{"model": {}}' }]);
    expect(d.fileName).toBe('model.zip');
    expect(Object.keys(unzipSync(d.bytes)).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
  });

  it('a zip that cannot be built (a file name zip cannot hold) offers nothing and says why', () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const error = downloadExport('merged-zip', weights, '{}', [{ name: 'x'.repeat(70_000), text: '' }]);
    expect(error).toMatch(/^the download could not be prepared, so nothing was saved: /);
    expect(offered).toEqual([]);
    expect(URL.createObjectURL).not.toHaveBeenCalled();
  });

  it('a file over 4 GiB is refused for a .zip instead of written truncated', () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const huge = new Uint8Array(1);
    Object.defineProperty(huge, 'length', { value: 5 * 1024 ** 3 });
    const error = downloadExport('merged-zip', huge, '{}');
    expect(error).toMatch(/model\.safetensors is 5\.0 GiB, more than a \.zip holds \(4 GiB\); download the files one by one instead/);
    expect(offered).toEqual([]);
  });

  it('a failure while offering (the page refuses the Blob) is reported, not thrown', () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.mocked(URL.createObjectURL).mockImplementation(() => {
      throw new Error('out of memory');
    });
    expect(downloadExport('adapter-weights', weights, config)).toMatch(/out of memory/);
    expect(offered).toEqual([]);
  });
});
