// What verify reports (spec/manifest.md §8): each damaged place with the entry it belongs to, the
// byte range and what is wrong, worded for a person and typed for a program.

/** Which part of the archive holds the damage. */
export type DamagePart =
  /** An entry's headers (tar: pax/ustar blocks; zip: local header and extra fields). */
  | 'header'
  /** An entry's stored data (content, padding, zip data descriptor). */
  | 'content'
  /** An entry the manifest lists that is not in the archive, or one the archive has and the manifest does not. */
  | 'missing'
  | 'extra'
  | 'manifest'
  | 'trailer'
  /** After the trailer: the tar end-of-archive blocks. */
  | 'end'
  /** The zip central directory and end records. */
  | 'central-directory'
  /** The compressed stream (gzip or zstd framing, checksums, seek table). */
  | 'compression'
  /** The container structure outside any known entry (a header that cannot be read, truncation). */
  | 'archive'
  /**
   * Recovery data embedded after the archive (spec/recovery.md §10): a packet, a wrapper, the
   * padding or the end records repeated after it. `range` is in the file. repair writes it again.
   */
  | 'recovery';

export interface Damage {
  part: DamagePart;
  /** The entry's path for display (header, content, missing, extra), when known. */
  path?: string;
  /** Byte range [start, end) in the container (the uncompressed tar stream, or the zip file); part "recovery": in the file. */
  range: [number, number];
  /** Offset in the compressed file, for damage found by a decompressor. */
  compressedOffset?: number;
  what: string;
}

/** One line for people: "header of ENTRY, bytes A–B: what". */
export function describeDamage(d: Damage): string {
  const who =
    d.part === 'header' ? `header of "${d.path}"` :
    d.part === 'content' ? `content of "${d.path}"` :
    d.part === 'missing' ? `missing entry "${d.path}"` :
    d.part === 'extra' ? `extra entry "${d.path}"` :
    d.part === 'central-directory' ? 'central directory' :
    d.path !== undefined ? `${d.part} ("${d.path}")` : d.part;
  const where = d.compressedOffset !== undefined ? `compressed offset ${d.compressedOffset}` : `bytes ${d.range[0]}–${d.range[1]}`;
  return `${who}, ${where}: ${d.what}`;
}
