// Archive output: a file written as NAME.partial, fsynced and renamed on success, or any Writable.
// Backpressure is honoured, so memory stays flat however fast the producer is.

import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Sink } from '../tar/writer.js';

export interface OpenSink extends Sink {
  /** Flush, fsync and publish the archive under its final name. */
  close(): Promise<void>;
  /** Remove what was written (the final name is never touched). */
  abort(): Promise<void>;
}

/** Coalesce small writes into 1 MiB chunks: one syscall for many small headers and files. */
const CHUNK = 1 << 20;

export function writableSink(stream: Writable, onClose?: () => Promise<void>, onAbort?: () => Promise<void>): OpenSink {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let failed: Error | undefined;
  stream.on('error', (e) => (failed = e));
  const flush = async () => {
    if (failed) throw failed;
    if (!pendingBytes) return;
    const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    // Wait for the write itself, not just for room: the caller may reuse `buf` once we return.
    await written(stream, buf);
    if (failed) throw failed;
  };
  return {
    async write(chunk: Buffer) {
      if (chunk.length >= CHUNK) {
        await flush();
        pending.push(chunk);
        pendingBytes = chunk.length;
        return flush();
      }
      // A copy: the caller may reuse its buffer as soon as write() returns.
      pending.push(Buffer.from(chunk));
      pendingBytes += chunk.length;
      if (pendingBytes >= CHUNK) await flush();
    },
    async close() {
      await flush();
      await onClose?.();
    },
    async abort() {
      pending = [];
      await onAbort?.();
    },
  };
}

/** Write to `path.partial`; close() fsyncs and renames it to `path`, abort() removes it. */
export async function fileSink(path: string): Promise<OpenSink> {
  const partial = `${path}.partial`;
  const fh = await open(partial, 'w', 0o644);
  const stream = createWriteStream('', { fd: fh.fd, autoClose: false });
  const end = () => new Promise<void>((res, rej) => stream.end((e?: Error | null) => (e ? rej(e) : res())));
  return writableSink(
    stream,
    async () => {
      await end();
      await fh.sync();
      await fh.close();
      await rename(partial, path);
    },
    async () => {
      stream.destroy();
      await fh.close().catch(() => undefined);
      await rm(partial, { force: true });
    },
  );
}

/** Write and wait until the stream has processed the chunk (its callback), or has failed. */
function written(stream: Writable, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(buf, (err) => (err ? reject(err) : resolve()));
  });
}
