// Number and string codecs for the fixed-width fields of a tar header block.
// Spec: spec/portarc-1.md §4.2 (numeric fields). Octal ASCII is the standard; base-256 (high bit of
// the first byte set, big-endian two's complement) is the GNU/star extension we accept on read.

/** Largest value an octal field of `width` bytes can hold, leaving one byte for the terminator. */
export function octalMax(width: number): number {
  return 8 ** (width - 1) - 1;
}

/** Write `value` as zero-padded octal digits followed by a NUL, filling the field exactly. */
export function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  // Digit by digit into the block: no string per field (eight fields a header, a header per entry).
  let v = value;
  for (let i = offset + width - 2; i >= offset; i--) {
    block[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  block[offset + width - 1] = 0;
}

export class FieldError extends Error {}

/**
 * Read a numeric field: octal (leading spaces/NULs allowed, ended by space or NUL) or base-256.
 * Returns a bigint so that 64-bit base-256 values and negative times survive.
 */
export function readNumber(block: Buffer, offset: number, width: number, field: string): bigint {
  const first = block[offset]!;
  if (first & 0x80) {
    // Base-256: the remaining bits of the field are a two's-complement big-endian integer.
    let v = BigInt(first & 0x7f);
    const negative = (first & 0x40) !== 0;
    if (negative) v = BigInt(first) - 256n;
    for (let i = 1; i < width; i++) v = (v << 8n) | BigInt(block[offset + i]!);
    return v;
  }
  let i = offset;
  const end = offset + width;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  // Up to 17 octal digits (51 bits) add up exactly in a double: one bigint at the end instead of
  // two per digit (eight numeric fields a header, a header per entry).
  let n = 0;
  let digits = 0;
  let v = 0n;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw new FieldError(`invalid octal digit 0x${c.toString(16)} in ${field} field`);
    const d = c - 0x30;
    if (++digits <= 17) n = n * 8 + d;
    else v = (digits === 18 ? BigInt(n) : v) * 8n + BigInt(d);
  }
  return digits <= 17 ? BigInt(n) : v;
}

/**
 * The value of an octal field of at most 17 digits (leading spaces/NULs, ended by space or NUL), as a
 * number: no bigint for the common case (a header's mode, ids, size and checksum). Undefined for
 * anything else (base-256, more digits, a bad digit): readNumber then says what it is.
 */
export function readSmallOctal(block: Buffer, offset: number, width: number): number | undefined {
  let i = offset;
  const end = offset + width;
  if (block[i]! & 0x80) return undefined;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  let n = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37 || ++digits > 17) return undefined;
    n = n * 8 + (c - 0x30);
  }
  return n;
}

/** A numeric field that must fit a safe integer: readSmallOctal, else readNumber and its checks. */
export function readSafeNumber(block: Buffer, offset: number, width: number, field: string): number {
  return readSmallOctal(block, offset, width) ?? toSafeNumber(readNumber(block, offset, width, field), field);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** Convert a field value to a JS number, refusing what a double cannot hold exactly. */
export function toSafeNumber(v: bigint, field: string): number {
  if (v > MAX_SAFE || v < MIN_SAFE) {
    throw new FieldError(`${field} value ${v} is out of range`);
  }
  return Number(v);
}

/** Bytes of a NUL-terminated (or field-filling) string field. */
export function readBytes(block: Buffer, offset: number, width: number): Buffer {
  // An empty field (most prefixes, link names) shares one empty buffer: nothing can be written into it.
  if (block[offset] === 0) return EMPTY;
  // One copy, no view made first (two header blocks a member).
  const end = fieldEnd(block, offset, width);
  const out = Buffer.allocUnsafe(end - offset);
  block.copy(out, 0, offset, end);
  return out;
}

/** A NUL-terminated (or field-filling) text field as UTF-8 text, without a copy of its bytes. */
export function readText(block: Buffer, offset: number, width: number): string {
  return block[offset] === 0 ? '' : block.toString('utf8', offset, fieldEnd(block, offset, width));
}

/** Where a string field's bytes end: at its first NUL, or where the field does. */
function fieldEnd(block: Buffer, offset: number, width: number): number {
  const nul = block.indexOf(0, offset);
  return nul === -1 || nul > offset + width ? offset + width : nul;
}

const EMPTY = Buffer.alloc(0);

/** Write bytes into a field; the caller has checked that they fit. Unused bytes stay NUL. */
export function writeBytes(block: Buffer, offset: number, width: number, bytes: Buffer): void {
  bytes.copy(block, offset, 0, Math.min(bytes.length, width));
}

/** Decimal seconds with an optional fraction, as pax writes times: `-1.5` is 1.5 s before the epoch. */
export function formatPaxTime(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  const sec = abs / 1_000_000_000n;
  const frac = abs % 1_000_000_000n;
  if (frac === 0n) return `${sign}${sec}`;
  return `${sign}${sec}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
}

/** Parse a pax time into ns. Digits past nanoseconds are dropped (truncation toward zero of the fraction). */
export function parsePaxTime(text: string): bigint | undefined {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (!m) return undefined;
  const frac = (m[3] ?? '').slice(0, 9).padEnd(9, '0');
  const abs = BigInt(m[2]!) * 1_000_000_000n + BigInt(frac);
  return m[1] ? -abs : abs;
}

/**
 * parsePaxTime of a record's value bytes, without making strings (two time records a member):
 * the same grammar and result; an integer part past 15 digits goes through parsePaxTime.
 */
export function parsePaxTimeBytes(v: Buffer): bigint | undefined {
  const n = v.length;
  const neg = n > 0 && v[0] === 0x2d;
  let i = neg ? 1 : 0;
  const intStart = i;
  let sec = 0;
  for (; i < n; i++) {
    const c = v[i]!;
    if (c < 0x30 || c > 0x39) break;
    sec = sec * 10 + (c - 0x30);
  }
  const intDigits = i - intStart;
  if (intDigits === 0) return undefined;
  let frac = 0;
  let fracDigits = 0;
  if (i < n) {
    if (v[i] !== 0x2e) return undefined;
    for (i++; i < n; i++) {
      const c = v[i]!;
      if (c < 0x30 || c > 0x39) return undefined;
      // Digits past the ninth are checked, then dropped (truncated, as parsePaxTime).
      if (fracDigits < 9) (frac = frac * 10 + (c - 0x30)), fracDigits++;
    }
  }
  if (intDigits > 15) return parsePaxTime(v.toString('latin1'));
  for (; fracDigits < 9; fracDigits++) frac *= 10;
  const abs = BigInt(sec) * 1_000_000_000n + BigInt(frac);
  return neg ? -abs : abs;
}

/** Parse a non-negative decimal pax value (size, uid, gid, devmajor...). */
export function parsePaxDecimal(text: string): number | undefined {
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
