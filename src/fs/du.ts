// The content bytes a create of these paths will read, for the progress total (percent, ETA):
// regular files' sizes, each inode once, found by an asynchronous walk that runs beside the
// archiving rather than before it. An estimate: what cannot be read is skipped (the scan itself
// reports it), and files may change meanwhile.

import { lstat, opendir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

export interface DuOptions {
  cwd?: string;
  /** As scan's: files with holes count their allocated bytes, which is about what is read. */
  sparse?: boolean;
  oneFileSystem?: boolean;
  /** false: the paths' directories are not descended (scan's `recursive`). */
  recursive?: boolean;
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
    // Only directories wait on the stack; a directory's files are counted as it is listed, one
    // name at a time (a directory of a million names held a million paths).
    const stack = [top];
    const count = async (path: string): Promise<boolean> => {
      const st = await lstat(path, { bigint: false }).catch(() => undefined);
      if (!st) return false;
      if (st.isFile()) {
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) return false;
          seen.add(key);
        }
        total += opts.sparse && st.blocks * 512 < st.size ? st.blocks * 512 : st.size;
        return false;
      }
      return st.isDirectory() && opts.recursive !== false && !(opts.oneFileSystem && st.dev !== rootDev);
    };
    while (stack.length) {
      if (opts.stopped?.()) return undefined;
      const path = stack.pop()!;
      if (!(await count(path))) continue;
      const dir = await opendir(path).catch(() => undefined);
      if (!dir) continue;
      try {
        for await (const d of dir) {
          if (opts.stopped?.()) return undefined;
          const child = join(path, d.name);
          if (d.isDirectory()) stack.push(child);
          else if (d.isFile()) await count(child);
        }
      } catch {
        // Listing failed part way: an estimate (the scan reports what it cannot read).
      }
    }
  }
  return total;
}
