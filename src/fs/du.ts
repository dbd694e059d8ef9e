// The content bytes a create of these paths will read, for the progress total (percent, ETA):
// regular files' sizes, each inode once, found by an asynchronous walk that runs beside the
// archiving rather than before it. An estimate: what cannot be read is skipped (the scan itself
// reports it), and files may change meanwhile.

import { lstat, readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

export interface DuOptions {
  cwd?: string;
  /** As scan's: files with holes count their allocated bytes, which is about what is read. */
  sparse?: boolean;
  oneFileSystem?: boolean;
  /** Checked between directories: the walk stops (undefined) once the archive is done. */
  stopped?: () => boolean;
}

export async function contentBytes(paths: string[], opts: DuOptions = {}): Promise<number | undefined> {
  const cwd = resolve(opts.cwd ?? '.');
  const seen = new Set<string>(); // dev:ino of files with several names
  let total = 0;
  for (const p of paths) {
    const top = isAbsolute(p) ? p : resolve(cwd, p);
    const rootDev = (await lstat(top).catch(() => undefined))?.dev;
    const stack = [top];
    while (stack.length) {
      if (opts.stopped?.()) return undefined;
      const path = stack.pop()!;
      const st = await lstat(path, { bigint: false }).catch(() => undefined);
      if (!st) continue;
      if (st.isFile()) {
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += opts.sparse && st.blocks * 512 < st.size ? st.blocks * 512 : st.size;
      } else if (st.isDirectory() && !(opts.oneFileSystem && st.dev !== rootDev)) {
        const names = await readdir(path).catch(() => [] as string[]);
        for (const n of names) stack.push(join(path, n));
      }
    }
  }
  return total;
}
