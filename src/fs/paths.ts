// Where an archive member may land, decided lexically before anything touches the disk.
// Spec: spec/portarc-1.md §9.2 (paths are bytes) and §9.3 (symlinks). The anchors are Python's
// tarfile `data` filter (PEP 706) and libarchive's SECURE_NODOTDOT / SECURE_NOABSOLUTEPATHS.
//
// A name is bytes. Only `/` separates: a `\` or a leading `C:` is part of a file name, as GNU tar
// and bsdtar restore it. On Windows too: there the adapter (platform.ts, spec §9.7) refuses paths
// that climb or name a drive when `\` is read as a separator, and maps every other `\` by its
// reversible name rule. WINDOWS_RULES is how Windows itself reads a path, for callers that need it.

export interface MemberPath {
  /** The components under the destination, none empty or `.` (nor `..`, unless `absolute`). Empty for the root itself. */
  parts: Buffer[];
  /** What was changed to make the path safe (leading "/" or drive letter removed). */
  notes: string[];
}

/** How a platform reads a member path: which bytes separate components, and whether `C:` is a drive. */
export interface PathRules {
  readonly name: 'posix' | 'windows';
  /** Bytes that separate components. */
  readonly separators: readonly number[];
  /** A leading `X:` names a drive (removed with a note), not part of a file name. */
  readonly driveLetters: boolean;
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;

/** Linux, macOS, every POSIX system: `/` is the only separator; every other byte is a name byte. */
export const POSIX_RULES: PathRules = { name: 'posix', separators: [SLASH], driveLetters: false };
/** How Windows reads a path: `/` and `\` separate, and a leading drive letter (`C:`) is removed. Not used for member names (§9.7). */
export const WINDOWS_RULES: PathRules = { name: 'windows', separators: [SLASH, BACKSLASH], driveLetters: true };

/** The rules member paths split by on this platform: `/` only, everywhere (Windows maps `\` instead, §9.7). */
export function hostPathRules(): PathRules {
  return POSIX_RULES;
}

function isDotDot(p: Buffer): boolean {
  return p.length === 2 && p[0] === 0x2e && p[1] === 0x2e;
}

function hasDrive(p: Buffer, rules: PathRules): boolean {
  return rules.driveLetters && p.length >= 2 && p[1] === 0x3a && /[A-Za-z]/.test(String.fromCharCode(p[0]!));
}

/** Split at the rule set's separators, dropping empty and `.` components. */
function components(path: Buffer, rules: PathRules): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length && !rules.separators.includes(path[i]!)) continue;
    const part = path.subarray(start, i);
    start = i + 1;
    if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
    out.push(part);
  }
  return out;
}

/**
 * Split a member path into components by the platform's rules. A leading separator (and, on
 * Windows, a drive letter) is removed with a note, as tar removes a leading `/`. A `..` component
 * anywhere is refused (unless `absolute`, tar's -P): the return value is then a string saying why.
 */
export function memberPath(path: Buffer, opts: { absolute?: boolean; rules?: PathRules } = {}): MemberPath | string {
  const rules = opts.rules ?? hostPathRules();
  const notes: string[] = [];
  let rest = path;
  if (hasDrive(rest, rules)) {
    notes.push(`drive "${rest.toString('latin1', 0, 2)}" removed`);
    rest = rest.subarray(2);
  }
  if (rest.length && rules.separators.includes(rest[0]!)) notes.push('leading "/" removed');
  const parts = components(rest, rules);
  for (const part of parts) {
    if (isDotDot(part) && !opts.absolute) return 'path has a ".." component';
    if (part.includes(0)) return 'path has a NUL byte';
  }
  return { parts, notes };
}

/**
 * Why a symlink at `linkParts` (its own components under the destination) with this target would
 * point outside the destination, or undefined when it stays inside. Used only by the strict
 * profile (`untrusted`): by default a symlink is data and is made verbatim.
 *
 * The check is lexical, so it must not depend on what other links will later be on disk. A `..`
 * after a name (`x/..`) would mean the parent of wherever `x` ends up pointing, and `x` may be a
 * symlink made later; such targets are refused. Leading `..` climb from the link's own directory,
 * which is a real directory (nothing is made through a link), and the names below can only be
 * inside-pointing links (each was checked when it was made).
 */
export function symlinkOutside(linkParts: Buffer[], target: Buffer, rules: PathRules = hostPathRules()): string | undefined {
  if (target.length && rules.separators.includes(target[0]!)) return 'is absolute';
  if (hasDrive(target, rules)) return 'names a drive';
  let depth = linkParts.length - 1; // the link's directory
  let named = false;
  for (const part of components(target, rules)) {
    if (!isDotDot(part)) {
      named = true;
      depth++;
      continue;
    }
    if (named) return 'has ".." after a name (where it leads depends on other links)';
    if (--depth < 0) return 'climbs above the destination';
  }
  return undefined;
}

/** Components joined with `/`, as a latin1 key (byte-exact, cheap to compare). */
export function keyOf(parts: Buffer[]): string {
  return parts.map((p) => p.toString('latin1')).join('/');
}
