// The path escape of the manifest (spec/manifest.md §4): member paths are bytes, XML holds
// characters. Bytes that are not part of valid UTF-8, control characters (which XML 1.0 forbids or
// attribute normalisation would change), U+FFFE/U+FFFF and '%' itself are written as %XX; every
// other character is written as itself. Python's urllib.parse.unquote_to_bytes() reverses it.

import { isUtf8 } from 'node:buffer';

const HEX = '0123456789ABCDEF';
const pct = (b: number) => `%${HEX[b >> 4]}${HEX[b & 15]}`;

/** True for a character that may stand for itself in the escaped form. */
function plain(cp: number): boolean {
  return cp >= 0x20 && cp !== 0x25 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0) && cp !== 0xfffe && cp !== 0xffff;
}

export function escapePath(path: Buffer): string {
  // Fast path: printable ASCII without '%', the common case.
  let simple = true;
  for (let i = 0; i < path.length; i++) {
    const b = path[i]!;
    if (b < 0x20 || b >= 0x7f || b === 0x25) {
      simple = false;
      break;
    }
  }
  if (simple) return path.toString('latin1');
  let out = '';
  let i = 0;
  while (i < path.length) {
    const len = utf8SeqLength(path, i);
    if (len === 0) {
      out += pct(path[i]!);
      i++;
      continue;
    }
    const ch = path.toString('utf8', i, i + len);
    if (plain(ch.codePointAt(0)!)) out += ch;
    else for (let k = i; k < i + len; k++) out += pct(path[k]!);
    i += len;
  }
  return out;
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
function utf8SeqLength(b: Buffer, i: number): number {
  const c = b[i]!;
  const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n <= 1 || i + n > b.length) return n === 1 ? 1 : 0;
  return isUtf8(b.subarray(i, i + n)) ? n : 0;
}

/** Reverse escapePath(). A '%' not followed by two hex digits is an error (the manifest is damaged). */
export function unescapePath(text: string): Buffer {
  if (!text.includes('%')) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let last = 0;
  for (let i = text.indexOf('%'); i !== -1; i = text.indexOf('%', last)) {
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`bad escape "%${hex}" in manifest path`);
    parts.push(Buffer.from(text.slice(last, i), 'utf8'), Buffer.from([parseInt(hex, 16)]));
    last = i + 3;
  }
  parts.push(Buffer.from(text.slice(last), 'utf8'));
  return Buffer.concat(parts);
}
