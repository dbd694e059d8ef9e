// Helpers for the zip tests: write entries to a zip in memory or on disk, and read a zip back
// through both readers (streaming and random access) with every member's content.
import { writeFileSync } from 'node:fs';
import type { Entry } from '../../src/model/entry.js';
import { openZip } from '../../src/zip/file-reader.js';
import { ZipStreamReader } from '../../src/zip/stream-reader.js';
import { ZipWriter, type ZipWriterOptions } from '../../src/zip/writer.js';

export type Item = [Entry, (Buffer | AsyncIterable<Buffer>)?];

export async function writeZip(items: Item[], opts: ZipWriterOptions = {}): Promise<{ bytes: Buffer; offsets: number[]; warnings: string[] }> {
  const chunks: Buffer[] = [];
  const w = new ZipWriter({ write: (c) => void chunks.push(Buffer.from(c)) }, { creator: 'test', ...opts });
  const offsets: number[] = [];
  const warnings: string[] = [];
  for (const [e, body] of items) {
    const r = await w.add(e, body);
    offsets.push(r.offset);
    warnings.push(...r.warnings);
  }
  await w.finish();
  return { bytes: Buffer.concat(chunks), offsets, warnings };
}

export interface Read {
  entry: Entry;
  offset: number;
  data: Buffer;
}

/** Feed bytes in small pieces, as a pipe would. */
export async function* pieces(bytes: Buffer, size = 7919): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

export async function readStream(bytes: Buffer | AsyncIterable<Buffer>, name = 't.zip') {
  const reader = new ZipStreamReader(Buffer.isBuffer(bytes) ? pieces(bytes) : bytes, { archiveName: name });
  const out: Read[] = [];
  for await (const m of reader) {
    const parts: Buffer[] = [];
    for await (const p of m.body) parts.push(p);
    out.push({ entry: m.entry, offset: m.offset, data: Buffer.concat(parts) });
  }
  return { members: out, info: reader.info };
}

export async function readFile(path: string) {
  const zf = await openZip(path);
  const out: Read[] = [];
  try {
    for await (const e of zf.entries()) {
      const parts: Buffer[] = [];
      for await (const p of e.open()) parts.push(p);
      out.push({ entry: e.entry, offset: e.offset, data: Buffer.concat(parts) });
    }
  } finally {
    await zf.close();
  }
  return { members: out, info: zf.info, count: zf.count };
}

export async function readBoth(bytes: Buffer, path: string) {
  writeFileSync(path, bytes);
  return { stream: await readStream(bytes), file: await readFile(path) };
}
