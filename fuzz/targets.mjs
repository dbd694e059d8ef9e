// Fuzz targets: each takes one input (bytes) and must end in success or in the parser's own error
// type: never another exception, a hang, or unbounded memory. Used by fuzz/run.mjs (`npm run fuzz`)
// and, on the seed corpus and saved crashes, by test/fuzz.test.ts.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveError, TarReader, decompressAuto, extract } from '../dist/api/index.js';
import { PaxError, parsePaxRecords } from '../dist/tar/pax.js';
import { ZipStreamReader, openZip } from '../dist/zip/index.js';

/** Feed bytes in uneven chunks, so that every ByteSource boundary case is reached. */
export async function* chunked(buf, seed = buf.length) {
  let pos = 0;
  let s = seed || 1;
  while (pos < buf.length) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const n = 1 + (s % 1500);
    yield buf.subarray(pos, pos + n);
    pos += n;
  }
}

/** Largest output one input may decompress to before we stop reading (a bomb is not a bug). */
const OUTPUT_CAP = 64 * 1024 * 1024;

const expected = (err) => err instanceof ArchiveError;

export const targets = {
  /** The tar reader over raw bytes: every member and every body read to the end. */
  async tar(buf) {
    const reader = new TarReader(chunked(buf), { archiveName: 'fuzz' });
    for await (const m of reader) for await (const _ of m.body);
  },

  /** pax records: only PaxError; and what parses re-encodes to the same records. */
  async pax(buf) {
    try {
      parsePaxRecords(buf);
    } catch (err) {
      if (!(err instanceof PaxError)) throw err;
      throw new ArchiveError(err.message);
    }
  },

  /** Filter sniffing and decompression (gzip, zstd, seekable zstd) of arbitrary bytes. */
  async sniff(buf) {
    let total = 0;
    for await (const c of decompressAuto(chunked(buf))) {
      total += c.length;
      if (total > OUTPUT_CAP) return;
    }
  },

  /** Whole extraction into a scratch directory beside a canary: nothing outside may change. */
  async extract(buf) {
    const base = mkdtempSync(join(tmpdir(), 'portarc-fuzz-'));
    try {
      mkdirSync(join(base, 'outside'));
      writeFileSync(join(base, 'outside', 'canary'), 'canary');
      const archive = join(base, 'in.tar');
      writeFileSync(archive, buf);
      let failure;
      try {
        await extract(archive, join(base, 'dest'), { fsync: false, limits: { bytes: OUTPUT_CAP } });
      } catch (err) {
        failure = err;
      }
      const outside = readdirSync(join(base, 'outside'));
      const top = readdirSync(base).sort().join(',');
      if (outside.join(',') !== 'canary' || readFileSync(join(base, 'outside', 'canary'), 'utf8') !== 'canary' || (top !== 'dest,in.tar,outside' && top !== 'in.tar,outside')) {
        throw new Error(`extraction escaped its destination: top level now ${top}, outside/ holds ${outside.join(',')}`);
      }
      if (lstatSync(join(base, 'outside')).isSymbolicLink()) throw new Error('outside/ was replaced');
      if (failure) throw failure;
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },

  /**
   * Both zip readers: random access (openZip on a scratch file, every entry's content read) and
   * streaming (ZipStreamReader over uneven chunks, every body read). Each may only end in success
   * or an ArchiveError (UnsupportedFeatureError is one).
   */
  async zip(buf) {
    let failure;
    const base = mkdtempSync(join(tmpdir(), 'portarc-fuzz-zip-'));
    try {
      const path = join(base, 'in.zip');
      writeFileSync(path, buf);
      try {
        const zf = await openZip(path, { archiveName: 'fuzz' });
        try {
          await drainZip((async function* () {
            for await (const e of zf.entries()) yield e.open();
          })());
        } finally {
          await zf.close();
        }
      } catch (err) {
        if (!expected(err)) throw err;
        failure = err;
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
    const reader = new ZipStreamReader(chunked(buf), { archiveName: 'fuzz' });
    await drainZip((async function* () {
      for await (const m of reader) yield m.body;
    })());
    if (failure) throw failure;
  },
};

/** Read every body of a zip reader's entries to the end, or until OUTPUT_CAP bytes came out. */
async function drainZip(members) {
  let total = 0;
  for await (const body of members) {
    for await (const c of body) {
      total += c.length;
      if (total > OUTPUT_CAP) return;
    }
  }
}

/** Run one input through a target: 'ok', 'rejected' (the parser's own error), or throws the bug. */
export async function runOne(name, buf) {
  try {
    await targets[name](buf);
    return 'ok';
  } catch (err) {
    if (expected(err)) return 'rejected';
    throw err;
  }
}

/** Seed inputs for a target: the conformance vectors and fuzz/corpus/<target>/*. */
export function seeds(name) {
  const out = [];
  const walk = (dir, test) => {
    let names = [];
    try {
      names = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p, test);
      else if (test(d.name)) out.push(readFileSync(p));
    }
  };
  const root = new URL('..', import.meta.url).pathname;
  const wants = name === 'sniff' ? (n) => /\.(gz|zst)$/.test(n) : name === 'pax' ? () => false : name === 'zip' ? (n) => /\.zip$/.test(n) : (n) => /\.tar$/.test(n);
  walk(join(root, 'conformance/vectors'), wants);
  walk(join(root, 'fuzz/corpus', name), () => true);
  if (name === 'pax') {
    // pax seeds: the data of real x headers, cut out of the vectors.
    for (const tar of seeds('tar')) {
      for (let at = 0; at + 512 <= tar.length; at += 512) {
        if (tar[at + 156] === 0x78 && tar.toString('latin1', at + 257, at + 262) === 'ustar') {
          const size = parseInt(tar.toString('latin1', at + 124, at + 135), 8);
          if (size > 0 && size < 65536) out.push(tar.subarray(at + 512, at + 512 + size));
        }
      }
    }
  }
  return out;
}
