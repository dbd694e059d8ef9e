// Where an archive member may land, decided lexically before anything touches the disk.
// Spec: spec/portarc-1.md §9.2 (safe paths). The anchors are Python's tarfile `data` filter
// (PEP 706) and libarchive's SECURE_NODOTDOT / SECURE_NOABSOLUTEPATHS.

export interface MemberPath {
  /** The components under the destination, none empty, `.` or `..`. Empty for the root itself. */
  parts: Buffer[];
  /** What was changed to make the path safe (leading "/" or drive letter removed). */
  notes: string[];
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;

function isDotDot(p: Buffer): boolean {
  return p.length === 2 && p[0] === 0x2e && p[1] === 0x2e;
}

/**
 * Split a member path into components. Both `/` and `\` separate (an archive made on Windows, or
 * one built to fool a Windows extractor); a leading drive letter (`C:`) or UNC/absolute prefix is
 * removed with a note, as tar removes a leading `/`. A `..` component anywhere is refused (unless
 * `absolute`, tar's -P): the return value is then a string saying why.
 */
export function memberPath(path: Buffer, opts: { absolute?: boolean } = {}): MemberPath | string {
  const parts: Buffer[] = [];
  const notes: string[] = [];
  let rest = path;
  if (rest.length >= 2 && rest[1] === 0x3a && /[A-Za-z]/.test(String.fromCharCode(rest[0]!))) {
    notes.push(`drive "${rest.toString('latin1', 0, 2)}" removed`);
    rest = rest.subarray(2);
  }
  if (rest[0] === SLASH || rest[0] === BACKSLASH) notes.push('leading "/" removed');
  let start = 0;
  for (let i = 0; i <= rest.length; i++) {
    if (i < rest.length && rest[i] !== SLASH && rest[i] !== BACKSLASH) continue;
    const part = rest.subarray(start, i);
    start = i + 1;
    if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
    if (isDotDot(part) && !opts.absolute) return 'path has a ".." component';
    if (part.includes(0)) return 'path has a NUL byte';
    parts.push(part);
  }
  return { parts, notes };
}

/**
 * Does a symlink at `linkParts` (its own components under the destination) with this target point
 * outside the destination, resolving lexically? Absolute targets always do.
 */
export function symlinkEscapes(linkParts: Buffer[], target: Buffer): boolean {
  if (target[0] === SLASH || target[0] === BACKSLASH) return true;
  if (target.length >= 2 && target[1] === 0x3a) return true; // C:...
  let depth = linkParts.length - 1; // the link's directory
  let start = 0;
  for (let i = 0; i <= target.length; i++) {
    if (i < target.length && target[i] !== SLASH && target[i] !== BACKSLASH) continue;
    const part = target.subarray(start, i);
    start = i + 1;
    if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
    depth += isDotDot(part) ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

/** Components joined with `/`, as a latin1 key (byte-exact, cheap to compare). */
export function keyOf(parts: Buffer[]): string {
  return parts.map((p) => p.toString('latin1')).join('/');
}
