// create() from entries made by the caller (not scanned from disk): each entry's fields are checked
// before anything of it is written, and each chunk of its content as it comes. A field no reader
// can restore (a negative uid, a file path ending in "/", a size of 2.5, a NUL in a path) was
// written, `verify` said OK, and the entry was lost at restore time; a string chunk was counted in
// UTF-16 units and cut short. Now each is an EntryError naming the entry (exit 2), and nothing is
// left under the archive's name. Spec: spec/portarc-1.md §3 (the entry model), §8.6.

import { displayName, type Entry } from '../model/entry.js';
import { EntryError } from '../model/errors.js';

const TYPES = new Set(['file', 'directory', 'symlink', 'hardlink', 'fifo', 'chardev', 'blockdev']);

const count = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const time = (v: unknown): boolean => typeof v === 'bigint';

/** What is wrong with a caller's entry, or undefined. `sizeMayBeUnknown`: a file's size may be left undefined (spooled). */
export function entryProblem(e: Entry, sizeMayBeUnknown = true): string | undefined {
  if (!TYPES.has(e.type)) return `type ${JSON.stringify(e.type)} is not one of ${[...TYPES].join(', ')}`;
  const p = e.path;
  // spec §3.3: not empty, no NUL, no trailing "/", not absolute, no ".." component.
  if (p.length === 0) return 'the path is empty';
  if (p.includes(0)) return 'the path holds a NUL byte';
  if (p[p.length - 1] === 0x2f) return 'the path ends in "/" (only a directory\'s may, and the writer adds that one itself)';
  if (p[0] === 0x2f) return 'the path is absolute (a member path is relative to where it is extracted)';
  if (p.toString('latin1').split('/').includes('..')) return 'the path has a ".." component, which every extractor refuses';
  if (e.type === 'file') {
    if (!(count(e.size) || (sizeMayBeUnknown && e.size === undefined))) return `size ${String(e.size)} is not a whole number of bytes (0 or more)`;
  }
  for (const k of ['mode', 'uid', 'gid'] as const) if (!count(e[k])) return `${k} ${String(e[k])} is not a whole number (0 or more)`;
  if ((e.type === 'chardev' || e.type === 'blockdev') && (!count(e.devMajor ?? 0) || !count(e.devMinor ?? 0))) return `device number ${String(e.devMajor)}, ${String(e.devMinor)} is not two whole numbers (0 or more)`;
  if (!time(e.mtimeNs)) return `mtimeNs must be a bigint (nanoseconds), not ${typeof e.mtimeNs}`;
  for (const k of ['atimeNs', 'ctimeNs'] as const) if (e[k] !== undefined && !time(e[k])) return `${k} must be a bigint (nanoseconds), not ${typeof e[k]}`;
  if (e.type === 'symlink' || e.type === 'hardlink') {
    if (!Buffer.isBuffer(e.linkTarget) || e.linkTarget.length === 0) return `a ${e.type} needs a linkTarget (a non-empty Buffer)`;
    if (e.linkTarget.includes(0)) return 'the link target holds a NUL byte';
  }
  if (typeof e.uname !== 'string' || typeof e.gname !== 'string') return 'uname and gname must be strings';
  if (!(e.xattrs instanceof Map)) return 'xattrs must be a Map of name to Buffer';
  for (const [k, v] of e.xattrs) if (typeof k !== 'string' || !k || !Buffer.isBuffer(v)) return `xattr ${JSON.stringify(k)}: a name (string) and a Buffer value`;
  if (e.sparse) {
    if (e.type !== 'file') return 'sparse runs on an entry that is not a file';
    let end = 0;
    for (const r of e.sparse) {
      if (!count(r.offset) || !count(r.length) || r.offset < end) return `sparse run ${r.offset}+${r.length}: runs are whole numbers, in order, not overlapping`;
      end = r.offset + r.length;
    }
    if (typeof e.size === 'number' && end > e.size) return `sparse runs end at ${end}, past the size ${e.size}`;
  }
  return undefined;
}

/**
 * Throw an EntryError naming the entry when its fields cannot be written as given. A directory's
 * trailing slashes are taken off first (`d/` is the directory `d`; the writer adds one slash).
 */
export function checkEntry(e: Entry, sizeMayBeUnknown = true): void {
  if (e.type === 'directory' && e.path.length > 1 && e.path[e.path.length - 1] === 0x2f) {
    let end = e.path.length;
    while (end > 1 && e.path[end - 1] === 0x2f) end--;
    e.path = e.path.subarray(0, end);
    e.name = displayName(e.path);
  }
  const problem = entryProblem(e, sizeMayBeUnknown);
  if (problem) throw new EntryError(`cannot be archived as given: ${problem}`, { entry: e.name ?? String(e.path) });
}

/** A body's chunks as Buffers: a Uint8Array is viewed as one; a string or anything else is an EntryError naming the entry. */
export async function* bufferChunks(body: AsyncIterable<unknown>, name: string): AsyncGenerator<Buffer> {
  for await (const c of body) {
    if (Buffer.isBuffer(c)) yield c;
    else if (c instanceof Uint8Array) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    else throw new EntryError(`its content yielded a ${typeof c === 'string' ? 'string' : typeof c}: chunks must be Buffers or Uint8Arrays (encode text first, e.g. Buffer.from(text))`, { entry: name });
  }
}
