// The Windows name rule: how one component of a POSIX member name becomes a Windows file name,
// and back. Spec: spec/portarc-1.md §9.7 (the table and examples are there).
//
// A POSIX name is bytes; Windows names are UTF-16 and forbid `< > : " \ | ? *`, control characters,
// a trailing dot or space, and the device names (CON, NUL, CONIN$, COM1, ... with or without extension).
// Like Cygwin, WSL and git for Windows, each offending character becomes the private-use code point
// U+F000 + its byte. The rule is a bijection: toWindowsName then fromWindowsName gives back the
// exact bytes, so an archive made on Windows from the restored tree has the original names. What
// makes it one: bytes that are not UTF-8 become U+F080..U+F0FF, and a character already in
// U+F000..U+F0FF is written as its three UTF-8 bytes, each escaped, so that no name on disk is
// ambiguous.

/** The first code point of the escape range: byte b is written as U+F000 + b. */
export const ESCAPE_BASE = 0xf000;

/** Printable ASCII characters Windows forbids in a name (`/` is the separator, never in a component). */
export const WINDOWS_FORBIDDEN = '<>:"\\|?*';

/** Device names, with or without an extension, case-insensitive (Win32 path rules; ¹²³ since Windows 10). */
const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])$/i;

const esc = (byte: number) => String.fromCharCode(ESCAPE_BASE + byte);

function isForbidden(cp: number): boolean {
  return cp < 0x20 || (cp < 0x80 && WINDOWS_FORBIDDEN.includes(String.fromCharCode(cp)));
}

/** Is `name` (as Windows reads it) a device name: the part before the first dot, less trailing spaces? */
export function isReservedName(name: string): boolean {
  const dot = name.indexOf('.');
  return RESERVED.test((dot < 0 ? name : name.slice(0, dot)).replace(/ +$/, ''));
}

/**
 * Decode UTF-8, one code point at a time; a byte that does not start a valid sequence (overlong,
 * surrogate, truncated, stray continuation) comes back as `byte` alone.
 */
function* utf8Points(bytes: Buffer): Generator<{ cp?: number; byte?: number; len: number }> {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    let cp = need === 0 ? b : need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = need >= 0;
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, surrogates and code points above U+10FFFF are not UTF-8.
    if (ok && need === 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok && need === 3 && (cp < 0x10000 || cp > 0x10ffff)) ok = false;
    if (ok) {
      yield { cp, len: need + 1 };
      i += need + 1;
    } else {
      yield { byte: b, len: 1 };
      i += 1;
    }
  }
}

/**
 * The Windows file name for one member path component (bytes, never empty, `.` or `..`, no `/`).
 * Returns the name as a string (UTF-16 on Windows).
 */
export function toWindowsName(part: Buffer): string {
  const chars: string[] = [];
  for (const p of utf8Points(part)) {
    if (p.byte !== undefined) chars.push(esc(p.byte));
    else if (isForbidden(p.cp!)) chars.push(esc(p.cp!));
    else if (p.cp! >= ESCAPE_BASE && p.cp! <= ESCAPE_BASE + 0xff) {
      // Already in the escape range: its own UTF-8 bytes, escaped, so that it reads back as itself.
      for (const b of Buffer.from(String.fromCodePoint(p.cp!), 'utf8')) chars.push(esc(b));
    } else chars.push(String.fromCodePoint(p.cp!));
  }
  // Windows drops trailing dots and spaces: each one of the trailing run is escaped.
  for (let i = chars.length - 1; i >= 0 && (chars[i] === '.' || chars[i] === ' '); i--) chars[i] = esc(chars[i]!.charCodeAt(0));
  // A device name: its first character (always an ASCII letter) is escaped.
  if (isReservedName(chars.join(''))) chars[0] = esc(chars[0]!.charCodeAt(0));
  return chars.join('');
}

/** The member name component (bytes) of a Windows file name: the inverse of toWindowsName. */
export function fromWindowsName(name: string): Buffer {
  const out: Buffer[] = [];
  let text = '';
  const flush = () => {
    if (text) out.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (cp >= ESCAPE_BASE && cp <= ESCAPE_BASE + 0xff) {
      flush();
      out.push(Buffer.of(cp - ESCAPE_BASE));
    } else text += ch;
  }
  flush();
  return Buffer.concat(out);
}

/** The inverse for a name read from disk as bytes (Node gives Windows names as UTF-8). */
export function fromWindowsNameBytes(name: Buffer): Buffer {
  return fromWindowsName(name.toString('utf8'));
}

/**
 * Why a member path must not be extracted on Windows although it is safe on POSIX: with `\` read
 * as a separator it has a `..` component, or it starts with a drive letter (`C:`) or a `\\` UNC
 * prefix. The name rule would make these harmless names, but a path meant to climb out is refused
 * as traversal (exit 2), as Windows tools read it.
 */
export function windowsTraversal(path: Buffer): string | undefined {
  const text = path.toString('latin1');
  const drive = /^[\\/]*([A-Za-z]:)/.exec(text);
  if (drive) return `path names a drive ("${drive[1]}"): traversal on Windows`;
  if (/^[\\/]{2}[^\\/]/.test(text) && text.includes('\\')) return 'path is a UNC path (\\\\server): traversal on Windows';
  if (text.split(/[\\/]/).some((c) => c === '..')) return 'path has a ".." component when "\\" separates (Windows): traversal';
  return undefined;
}

/**
 * A symlink target as Windows should store it: each component mapped by the name rule (so that
 * the link reaches the renamed file), `.` and `..` kept, joined with `\`. Only `/` separates,
 * as in every POSIX name. An absolute target is kept absolute (`\` + mapped components).
 */
export function toWindowsTarget(target: Buffer): string {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i <= target.length; i++) {
    if (i < target.length && target[i] !== 0x2f) continue;
    const part = target.subarray(start, i);
    start = i + 1;
    const dots = part.length <= 2 && part.every((b) => b === 0x2e);
    parts.push(part.length === 0 || dots ? part.toString('latin1') : toWindowsName(part));
  }
  return parts.join('\\');
}

/** The inverse: a Windows link target read from disk back to the member's POSIX target. */
export function fromWindowsTarget(target: string): Buffer {
  const parts = target.split('\\');
  return Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from('/'), fromWindowsName(p)] : [fromWindowsName(p)])));
}
