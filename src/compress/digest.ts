// The compressed-stream digest of a portarc .tar.gz / .tar.zst with a manifest (spec/manifest.md
// §7.1): deflate and zstd bitstreams have bits no decoder checks (unused Huffman/FSE codes, padding
// bits), so a SHA-256 of the compressed bytes closes the stream, in a place every decoder skips:
// gzip: a last, empty member whose comment holds it (header CRC on); zstd: a skippable frame just
// before the seek table. Both have a fixed size and layout, so that a verifier checks them byte
// for byte.

import { crc32 } from '../zip/crc.js';

const PREFIX = 'portarc-sha256=';
/** Skippable frame magic 0x184D2A5B (the seek table uses ...5E). */
export const ZSTD_DIGEST_MAGIC = 0x184d2a5b;

/** 10-byte header (FHCRC|FCOMMENT), comment + NUL, CRC16, empty fixed block, CRC32 0, ISIZE 0. */
export function gzipDigestMember(sha256: string): Buffer {
  const head = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0x12, 0, 0, 0, 0, 0, 3]), Buffer.from(`${PREFIX}${sha256}\0`, 'latin1')]);
  const crc16 = Buffer.alloc(2);
  crc16.writeUInt16LE(crc32(head) & 0xffff);
  return Buffer.concat([head, crc16, Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0, 0])]);
}
export const GZIP_DIGEST_SIZE = 102;

export function zstdDigestFrame(sha256: string): Buffer {
  const body = Buffer.from(`${PREFIX}${sha256}`, 'latin1');
  const b = Buffer.alloc(8 + body.length);
  b.writeUInt32LE(ZSTD_DIGEST_MAGIC, 0);
  b.writeUInt32LE(body.length, 4);
  body.copy(b, 8);
  return b;
}
export const ZSTD_DIGEST_SIZE = 87;
