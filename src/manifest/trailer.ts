// The trailer (spec/manifest.md §5): a fixed-size text record at a findable place at the end of the
// archive (the data of the last tar member, or the zip end-of-central-directory comment) that says
// where the manifest is and holds the digests that cover the archive from the manifest on.

import { createHash } from 'node:crypto';

/**
 * The magic line written: its version is the trailer format's, and equals the manifest's major
 * version (2: the whole-archive digest is of the range digests, spec/manifest.md §7).
 */
export const TRAILER_MAGIC = 'PORTARC-TRAILER 2.0\n';
/** The magic lines read: this format and 1.0 (portarc 0.1.0: the whole-archive digest is of the bytes). */
const MAGICS: Record<string, 1 | 2> = { [TRAILER_MAGIC]: 2, 'PORTARC-TRAILER 1.0\n': 1 };
/** Whether `text` starts with a trailer magic this reader reads (all have the same length). */
export function isTrailerMagic(text: string): boolean {
  return MAGICS[text.slice(0, TRAILER_MAGIC.length)] !== undefined;
}
const NUMBERS = ['manifest-offset', 'manifest-data', 'manifest-size', 'manifest-end'] as const;
const DIGESTS = ['archive-sha256', 'manifest-sha256', 'member-sha256', 'end-sha256'] as const;
const WIDTH = 16;

/** Bytes of the trailer text (every field has a fixed width). */
export const TRAILER_TEXT_SIZE =
  TRAILER_MAGIC.length + NUMBERS.reduce((n, k) => n + k.length + 2 + WIDTH, 0) + DIGESTS.reduce((n, k) => n + k.length + 2 + 64, 0) + 'check'.length + 2 + 32;
/** The tar member's size: the text, then NULs to one block. */
export const TRAILER_SIZE = 512;

export interface Trailer {
  /** The trailer format (its magic line): 1 or 2, the major version of the manifest it goes with. */
  version: 1 | 2;
  /** Offset of the manifest member's first header. */
  manifestOffset: number;
  /** Offset of the manifest's XML bytes. */
  manifestData: number;
  /** Length of the XML. */
  manifestSize: number;
  /** Where the manifest member ends (the trailer member's header in tar, the central directory in zip). */
  manifestEnd: number;
  /** The whole-archive digest of [0, manifestOffset): of the range digests (version 2), of the bytes (1). */
  archiveSha256: string;
  /** SHA-256 of the XML. */
  manifestSha256: string;
  /** SHA-256 of the bytes [manifestOffset, manifestEnd). */
  memberSha256: string;
  /** SHA-256 of the bytes from manifestEnd to the first byte of the trailer text. */
  endSha256: string;
}

export class TrailerError extends Error {}

const key = (k: string) => k.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as Exclude<keyof Trailer, 'version'>;

export function encodeTrailer(t: Omit<Trailer, 'version'>): Buffer {
  let text = TRAILER_MAGIC;
  for (const k of NUMBERS) text += `${k} ${String(t[key(k)]).padStart(WIDTH, '0')}\n`;
  for (const k of DIGESTS) text += `${k} ${t[key(k)]}\n`;
  text += `check ${createHash('sha256').update(text).digest('hex').slice(0, 32)}\n`;
  return Buffer.from(text, 'latin1');
}

/** Parse the trailer text at the start of `b`; TrailerError says what is wrong. */
export function decodeTrailer(b: Buffer): Trailer {
  if (b.length < TRAILER_TEXT_SIZE) throw new TrailerError(`trailer is ${b.length} bytes, ${TRAILER_TEXT_SIZE} expected`);
  const text = b.toString('latin1', 0, TRAILER_TEXT_SIZE);
  const version = MAGICS[text.slice(0, TRAILER_MAGIC.length)];
  if (!version) throw new TrailerError('no trailer magic');
  const lines = text.slice(TRAILER_MAGIC.length).split('\n');
  const checkLine = lines[NUMBERS.length + DIGESTS.length] ?? '';
  const body = text.slice(0, text.length - checkLine.length - 1);
  if (checkLine !== `check ${createHash('sha256').update(body).digest('hex').slice(0, 32)}`) throw new TrailerError('trailer check digest does not match its text');
  const t = { version } as Record<string, number | string>;
  NUMBERS.forEach((k, i) => {
    const m = new RegExp(`^${k} (\\d{${WIDTH}})$`).exec(lines[i] ?? '');
    if (!m) throw new TrailerError(`trailer line ${i + 2} is not "${k} NUMBER"`);
    t[key(k)] = Number(m[1]);
  });
  DIGESTS.forEach((k, i) => {
    const m = new RegExp(`^${k} ([0-9a-f]{64})$`).exec(lines[NUMBERS.length + i] ?? '');
    if (!m) throw new TrailerError(`trailer line ${NUMBERS.length + i + 2} is not "${k} DIGEST"`);
    t[key(k)] = m[1]!;
  });
  return t as unknown as Trailer;
}

/** Offset in `b` of the last occurrence of a trailer magic this reader reads, or -1. */
export function findTrailerMagic(b: Buffer): number {
  return Math.max(...Object.keys(MAGICS).map((m) => b.lastIndexOf(m, undefined, 'latin1')));
}
