import { useState, type ReactNode } from 'react';

/** A drop target around its children; directories dropped are walked for their files. */
export function DropZone(props: { onFiles: (files: File[]) => void; children: ReactNode; testId: string }) {
  const [over, setOver] = useState(false);
  return (
    <div
      className={over ? 'drop over' : 'drop'}
      data-testid={props.testId}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        void droppedFiles(e.dataTransfer).then(props.onFiles);
      }}
    >
      {props.children}
    </div>
  );
}

async function droppedFiles(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...dt.files];
  const files: File[] = [];
  for (const entry of entries) files.push(...(await walk(entry)));
  return files;
}

async function walk(entry: FileSystemEntry): Promise<File[]> {
  if (entry.isFile) return [await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej))];
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
  const nested = await Promise.all(children.map(walk));
  return nested.flat();
}
