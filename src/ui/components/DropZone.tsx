import { useState, type ReactNode } from 'react';

/** A file with its path relative to what was dropped or picked ("my-model/config.json", or just "config.json"). */
export interface PickedFile {
  readonly file: File;
  readonly path: string;
}

/** Files from an <input type="file">: a folder picker gives each file's webkitRelativePath. */
export function pickedFiles(list: FileList | null): PickedFile[] {
  return [...(list ?? [])].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/**
 * A drop target around its children; directories dropped are walked for their files. While
 * `disabled`, a drop is taken (so the browser does not open the file instead) and ignored.
 */
export function DropZone(props: { onFiles: (files: PickedFile[]) => void; children: ReactNode; testId: string; disabled?: boolean }) {
  const [over, setOver] = useState(false);
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a drop target for the mouse; the file inputs among its children are the keyboard path
    <div
      className={props.disabled ? 'drop disabled' : over ? 'drop over' : 'drop'}
      data-testid={props.testId}
      aria-disabled={props.disabled || undefined}
      onDragOver={(e) => {
        e.preventDefault();
        if (props.disabled) {
          e.dataTransfer.dropEffect = 'none';
          return;
        }
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        if (props.disabled) return;
        void droppedFiles(e.dataTransfer).then(props.onFiles);
      }}
    >
      {props.children}
    </div>
  );
}

async function droppedFiles(dt: DataTransfer): Promise<PickedFile[]> {
  // Entries must be taken synchronously, before the drop event's data store goes away.
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...dt.files].map((file) => ({ file, path: file.name }));
  const files: PickedFile[] = [];
  for (const entry of entries) files.push(...(await walk(entry)));
  return files;
}

async function walk(entry: FileSystemEntry): Promise<PickedFile[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    return [{ file, path: entry.fullPath.replace(/^\//, '') || file.name }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries hands out a directory in batches (100 at a time in Chrome) until it returns none.
  const children: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (batch.length === 0) break;
    children.push(...batch);
  }
  const nested = await Promise.all(children.map(walk));
  return nested.flat();
}
