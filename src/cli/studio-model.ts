import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModelFolder, type ModelFolder } from '../engine/model-files';
import { FormatError } from '../formats/errors';

/** Every .json and .safetensors file of the folder, as the studio's folder picker hands them over. */
async function modelBlobs(dir: string): Promise<Map<string, Blob>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FormatError(dir, code === 'ENOENT' ? 'model folder not found' : `cannot read the model folder (${code ?? (e as Error).message})`);
  }
  const blobs = new Map<string, Blob>();
  for (const name of names.filter((n) => /\.(json|safetensors)$/.test(n))) blobs.set(name, new Blob([await readFile(join(dir, name))]));
  return blobs;
}

/** The studio's loader; its errors name a file inside the folder, so they get the folder's path. */
export async function readStudioModel(dir: string): Promise<ModelFolder> {
  const blobs = await modelBlobs(dir);
  try {
    return await loadModelFolder(blobs);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(join(dir, e.file), e.problem);
    throw e;
  }
}
