// Random-access byte sources for `open()` (spec/manifest.md §12, random access): a local file, an
// HTTP(S) URL read with `Range` requests, or any object with `size` and `read(offset, length)`
// (an object store client). Every source counts the bytes it delivered, so that a caller (and the
// tests) can see that one file out of a large archive costs a few reads, not a scan.

import { open as openFile, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { IoError, ioError, UsageError } from '../model/errors.js';
import type { RandomAccessReader } from '../compress/seektable.js';

/** Positioned reads of an archive that is not necessarily on this machine. */
export interface RandomAccessSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Exactly `length` bytes at `offset` (fewer only past the end). The Buffer is the caller's from
   * then on: it must not change afterwards (reads are kept and served again, and a member's part
   * may still be being written while the next is read).
   */
  read(offset: number, length: number): Promise<Buffer>;
  close?(): Promise<void>;
}

/** A source as open() uses it: a name for messages and a count of bytes read. */
export interface CountedSource extends RandomAccessSource {
  readonly name: string;
  /** Bytes delivered by read() so far. */
  bytesRead: number;
  /** read() calls so far. */
  reads: number;
  close(): Promise<void>;
}

export function isRandomAccessSource(s: unknown): s is RandomAccessSource {
  return typeof s === 'object' && s !== null && typeof (s as RandomAccessSource).read === 'function' && Number.isSafeInteger((s as RandomAccessSource).size);
}

export function isUrl(s: unknown): s is string {
  return typeof s === 'string' && /^https?:\/\//i.test(s);
}

/** Wrap any source: count its bytes, check what it returns, name it in errors. */
export function counted(src: RandomAccessSource, name: string): CountedSource {
  const c: CountedSource = {
    name,
    size: src.size,
    bytesRead: 0,
    reads: 0,
    async read(offset, length) {
      if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0)) throw new UsageError(`read(${offset}, ${length}): not a byte range`);
      const want = Math.max(0, Math.min(length, src.size - offset));
      if (want === 0) return Buffer.alloc(0);
      const got = await src.read(offset, want);
      c.reads++;
      c.bytesRead += got.length;
      if (got.length !== want) throw new IoError(`short read: ${got.length} of ${want} bytes at offset ${offset}`, { path: name });
      return Buffer.isBuffer(got) ? got : Buffer.from(got);
    },
    close: async () => void (await src.close?.()),
  };
  return c;
}

/** A local file. */
export async function fileSource(path: string): Promise<CountedSource> {
  let fh: FileHandle;
  try {
    fh = await openFile(path, 'r');
  } catch (err) {
    throw ioError(err, 'cannot open the archive', path);
  }
  const st = await fh.stat();
  if (st.isDirectory()) {
    await fh.close();
    throw new IoError('is a directory, not an archive: name the archive file (-f FILE)', { path, errno: 'EISDIR' });
  }
  return counted(
    {
      size: st.size,
      async read(offset, length) {
        const buf = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, offset + got).catch((e) => {
            throw ioError(e, 'cannot read the archive', path);
          });
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === length ? buf : buf.subarray(0, got);
      },
      close: () => fh.close(),
    },
    path,
  );
}

export interface HttpSourceOptions {
  /** Extra request headers (authorization...). */
  headers?: Record<string, string>;
  /**
   * https only: the certificate authorities to trust for this source instead of Node's default set
   * (PEM text; e.g. a private CA, or a self-signed server's own certificate). The server's
   * certificate is always verified: there is no option to turn that off.
   */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * A request that gets no byte for this long (connecting, waiting for the answer, or in the
   * middle of its body) fails with an IoError naming the range (default 30,000 ms): a server that
   * stalls must not hang a restore.
   */
  timeoutMs?: number;
  /** Stops the request under way (and every later one) with an IoError: the caller's cancel. */
  signal?: AbortSignal;
}

const HTTP_TIMEOUT_MS = 30_000;
const stalledFor = (ms: number) => `no data from the server for ${ms / 1000} s`;

/**
 * One GET, resolved with the response (any status). node:http and node:https are loaded here, on
 * first use: loading them costs ~7 MiB of memory (Node 24) that no local operation needs.
 */
async function get(url: URL, headers: Record<string, string>, opts: HttpSourceOptions): Promise<IncomingMessage> {
  const https = url.protocol === 'https:';
  const { request } = https ? await import('node:https') : await import('node:http');
  const ca = opts.ca;
  const timeout = opts.timeoutMs ?? HTTP_TIMEOUT_MS;
  const once = () =>
    new Promise<IncomingMessage>((resolve, reject) => {
      let stalled = false;
      const r = request(url, { method: 'GET', headers, timeout, ...(opts.signal && { signal: opts.signal }), ...(https && ca !== undefined && { ca }) }, (res) => resolve(Object.assign(res, { stalled: () => stalled })));
      // An idle socket (no byte for `timeout` ms), before or during the answer: the request ends
      // with this error, its response as "aborted" (whose reader asks stalled()).
      r.on('timeout', () => {
        stalled = true;
        r.destroy(Object.assign(new Error(stalledFor(timeout)), { code: 'ETIMEDOUT' }));
      });
      r.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { reused: r.reusedSocket })));
      r.end();
    });
  try {
    return await once();
  } catch (err) {
    // A kept-alive connection the server closed while it was idle (Node's servers: after 5 s) fails
    // the next request on it with ECONNRESET: a GET is safe to send again, on a new connection.
    const e = err as NodeJS.ErrnoException & { reused?: boolean };
    if (e.reused && e.code === 'ECONNRESET') return once();
    throw err;
  }
}

async function body(res: IncomingMessage, limit: number, name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    // A server that ignores the range must not make us hold a whole archive.
    if (n > limit) {
      res.destroy();
      throw new IoError(`the server sent more than the ${limit} bytes asked for`, { path: name });
    }
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts, n);
}

/**
 * An HTTP(S) URL read with `Range: bytes=a-b`. The size comes from the first ranged answer's
 * `Content-Range` (`bytes 0-0/SIZE`); every answer must be `206` with the range asked for: a server
 * that ignores ranges (200) would send the whole archive for each read, so it is refused.
 * An https server's certificate is verified against Node's CAs, or against `opts.ca` when given
 * (`open(await httpSource(url, { ca }))` for a server with a private or self-signed certificate).
 */
export async function httpSource(href: string, opts: HttpSourceOptions = {}): Promise<CountedSource> {
  const url = new URL(href);
  if (opts.ca !== undefined && url.protocol !== 'https:') throw new UsageError(`${href}: the ca option applies to https URLs only`);
  const name = `${url.protocol}//${url.host}${url.pathname}`;
  const fail = (why: string, cause?: unknown) => new IoError(why, { path: name, cause });
  const ranged = async (a: number, b: number): Promise<{ data: Buffer; total: number }> => {
    let res: IncomingMessage;
    try {
      res = await get(url, { ...opts.headers, Range: `bytes=${a}-${b}` }, opts);
    } catch (err) {
      throw fail(`cannot fetch bytes ${a}-${b}: ${(err as Error).message}`, err);
    }
    if (res.statusCode !== 206) {
      res.resume();
      if (res.statusCode === 200) throw fail('the server does not serve byte ranges (it answered 200, not 206, to a Range request): random access needs Range support');
      throw fail(`cannot fetch bytes ${a}-${b}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
    }
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers['content-range'] ?? '');
    if (!m || Number(m[1]) !== a || Number(m[2]) > b) {
      res.resume();
      throw fail(`the server answered bytes ${a}-${b} with Content-Range "${res.headers['content-range'] ?? ''}"`);
    }
    const data = await body(res, Number(m[2]) - a + 1, name).catch((err) => {
      if (err instanceof IoError) throw err;
      const why = (res as IncomingMessage & { stalled?: () => boolean }).stalled?.() ? stalledFor(opts.timeoutMs ?? HTTP_TIMEOUT_MS) : opts.signal?.aborted ? 'cancelled' : (err as Error).message;
      throw fail(`cannot fetch bytes ${a}-${b}: ${why}`, err);
    });
    if (data.length !== Number(m[2]) - a + 1) throw fail(`the answer for bytes ${a}-${b} was cut after ${data.length} bytes`);
    return { data, total: Number(m[3]) };
  };
  const first = await ranged(0, 0);
  return counted(
    {
      size: first.total,
      read: async (offset, length) => (await ranged(offset, offset + length - 1)).data,
    },
    name,
  );
}

/** The seek-table layer's view of a source. */
export function asReader(src: RandomAccessSource): RandomAccessReader {
  return { size: () => src.size, read: (p, n) => src.read(p, n) };
}

/** What a FileHandle-based reader (the zip file reader) needs of a handle: positioned reads, stat, close. */
export function asFileHandle(src: RandomAccessSource): FileHandle {
  const shim = {
    stat: async () => ({ size: src.size }),
    async read(buf: Buffer, off: number, len: number, pos: number) {
      const got = await src.read(pos, len);
      got.copy(buf, off);
      return { bytesRead: got.length, buffer: buf };
    },
    close: async () => undefined,
  };
  return shim as unknown as FileHandle;
}
