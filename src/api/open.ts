// Open any portarc archive for reading: a zip (by its magic bytes; random access when it is a
// file, streaming otherwise) or a tar, plain or gzip- or zstd-compressed. Spec: spec/portarc-1.md
// §4.8 (detection) and spec/zip-profile.md.

import { open } from 'node:fs/promises';
import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { decompressAuto, peek, sniff, unsupportedFormat } from '../compress/index.js';
import { openSource, stable, type ArchiveSource } from '../io/source.js';
import { TarReader } from '../tar/reader.js';
import type { ArchiveInfo } from '../tar/version.js';
import { ZipStreamReader, isZip, openZip } from '../zip/index.js';

export interface Member {
  entry: Entry;
  /** Offset of the member's first header: in the uncompressed tar, or of the zip local header. */
  offset: number;
  body: AsyncIterable<Buffer>;
}

export interface OpenArchive {
  format: 'tar' | 'zip';
  /** Archive name for messages. */
  name: string;
  info: ArchiveInfo;
  members: AsyncIterable<Member>;
  close(): Promise<void>;
}

export interface OpenOptions {
  limits?: Partial<Limits>;
  /** The consumer keeps body chunks after asking for more (a zip writer gathering a member): copy them. */
  keepsChunks?: boolean;
}

export async function openArchive(source: ArchiveSource, options: OpenOptions = {}): Promise<OpenArchive> {
  const opened = openSource(source);
  const { name } = opened;
  const reused = opened.reused && !options.keepsChunks;
  const bytes = opened.reused && options.keepsChunks ? stable(opened.bytes) : opened.bytes;
  if (typeof source === 'string' && source !== '-') {
    // A zip file is read through its central directory: other tools keep modes and symlinks there only.
    const fh = await open(source, 'r');
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0).finally(() => fh.close());
    if (isZip(head)) {
      const zip = await openZip(source, { archiveName: name, limits: options.limits });
      async function* members(): AsyncGenerator<Member> {
        for await (const e of zip.entries()) yield { entry: e.entry, offset: e.offset, body: e.open() };
      }
      return { format: 'zip', name, info: zip.info, members: members(), close: () => zip.close() };
    }
  }
  const { head, rest } = await peek(bytes, 6);
  if (isZip(head)) {
    const reader = new ZipStreamReader(reused ? stable(rest) : rest, { archiveName: name, limits: options.limits });
    return { format: 'zip', name, info: reader.info, members: reader, close: opened.close };
  }
  // The tar reader is done with a chunk before it asks for the next but one; the decompressors may
  // not be (they keep partial frames), so they get copies.
  const plain = sniff(head) === 'none' && !unsupportedFormat(head);
  const tarBytes = plain ? rest : decompressAuto(reused ? stable(rest) : rest);
  const reader = new TarReader(tarBytes, { archiveName: name, limits: options.limits });
  return { format: 'tar', name, info: reader.info, members: reader, close: opened.close };
}
