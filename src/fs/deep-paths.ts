// Paths under a root that may grow past what the system takes in one path (PATH_MAX: 4096 bytes
// with its NUL on Linux). create archives such trees whole, as GNU tar does (scan.ts names a deep
// directory's children through its descriptor); restore and `verify -C` reach them the same way:
// a path past DEEP bytes is named from directories held open, through the platform's alias for
// a descriptor (Linux: /proc/self/fd/N). Shorter paths are named whole, as always.

import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { keyOf } from './paths.js';

/**
 * Past this many bytes a path is named from an anchor: each segment from one adds at most one
 * more name (256 bytes), so no path given to the system passes PATH_MAX.
 */
export const DEEP = 3072;

/**
 * At most this many directories held open: a hostile archive of many deep directories must not
 * take the descriptors every other entry needs (EMFILE). Past it a deep path fails, reported.
 */
export const MAX_ANCHORS = 256;

/** `base` and then "/" and each of parts[from, to): one buffer, no array per part (a path a file). */
function joined(base: Buffer, parts: Buffer[], from: number, to = parts.length): Buffer {
  let n = base.length;
  for (let i = from; i < to; i++) n += 1 + parts[i]!.length;
  const out = Buffer.allocUnsafe(n);
  let p = base.copy(out, 0);
  for (let i = from; i < to; i++) {
    out[p++] = 0x2f;
    p += parts[i]!.copy(out, p);
  }
  return out;
}

interface Anchor {
  fd: number;
  /** The descriptor's alias (latin1), e.g. /proc/self/fd/7. */
  alias: string;
}

export class DeepPaths {
  /** Directories held open, by key (member path components joined by "/", latin1). */
  private anchors = new Map<string, Anchor>();
  /** Each alias → the whole path it stands for (latin1). */
  private aliases = new Map<string, string>();

  /** `alias`: the platform's name for a directory descriptor; undefined where there is none. */
  constructor(
    private readonly root: Buffer,
    private readonly alias: ((fd: number) => Buffer) | undefined,
  ) {}

  /**
   * The path of `parts` under the root. Past DEEP bytes: from the directory where it passes each
   * further DEEP bytes, held open (the same parts always give the same path). The whole path when
   * an anchor cannot be opened (not there yet, no /proc, MAX_ANCHORS held): the system then
   * refuses it, reported.
   */
  path(parts: Buffer[]): Buffer {
    if (!parts.length) return this.root;
    const whole = joined(this.root, parts, 0);
    if (whole.length <= DEEP || !this.alias) return whole;
    let base = this.root;
    let from = 0;
    let length = base.length;
    for (let i = 0; i < parts.length; i++) {
      if (i > from && length + 1 + parts[i]!.length > DEEP) {
        const anchor = this.anchor(parts.slice(0, i), joined(base, parts, from, i));
        if (!anchor) return whole;
        base = Buffer.from(anchor.alias, 'latin1');
        from = i;
        length = base.length;
      }
      length += 1 + parts[i]!.length;
    }
    return joined(base, parts, from);
  }

  /** The whole path (latin1) of a path path() gave, its alias undone: for keys that compare paths. */
  plain(path: Buffer): string {
    const s = path.toString('latin1');
    if (!this.aliases.size || !s.startsWith('/proc/')) return s;
    const cut = s.indexOf('/', s.lastIndexOf('/fd/') + 4);
    const whole = this.aliases.get(cut < 0 ? s : s.slice(0, cut));
    return whole === undefined ? s : whole + (cut < 0 ? '' : s.slice(cut));
  }

  /** The directory at `key` (or below it) is gone or replaced: let go of what was held there. */
  drop(key: string): void {
    if (!this.anchors.size) return;
    for (const [k, a] of this.anchors) {
      if (k !== key && !k.startsWith(key + '/')) continue;
      closeSync(a.fd);
      this.anchors.delete(k);
      this.aliases.delete(a.alias);
    }
  }

  /** Let go of every directory held open. */
  close(): void {
    for (const a of this.anchors.values()) closeSync(a.fd);
    this.anchors.clear();
    this.aliases.clear();
  }

  /** The directory `dir` (its parts, and a path to it the system takes), held open. */
  private anchor(dir: Buffer[], path: Buffer): Anchor | undefined {
    const key = keyOf(dir);
    const known = this.anchors.get(key);
    if (known) return known;
    if (this.anchors.size >= MAX_ANCHORS) return undefined;
    const fd = holdDirectory(path, this.alias!);
    if (fd === undefined) return undefined;
    const anchor = { fd, alias: this.alias!(fd).toString('latin1') };
    this.anchors.set(key, anchor);
    this.aliases.set(anchor.alias, `${this.root.toString('latin1')}/${key}`);
    return anchor;
  }
}

/**
 * The directory at `path` opened for `alias` (not through a symlink put in its place); undefined
 * when it cannot be, or the alias does not resolve (no /proc mounted): the long paths then fail
 * as the system says, named.
 */
export function holdDirectory(path: Buffer, alias: (fd: number) => Buffer): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  if (existsSync(alias(fd))) return fd;
  closeSync(fd);
  return undefined;
}
