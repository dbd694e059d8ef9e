#!/usr/bin/env node
// Reference adapter of the portarc conformance suite (protocol: conformance/README.md).
// Reads one archive (plain, gzip or zstd) on stdin with portarc's TarReader and prints the
// canonical JSON document.
// Exit 0: read, no warnings (notices allowed); 1: read, with warnings; 2: refused or malformed
// (message on stderr, nothing on stdout). Needs the built library: `npx tsc -p tsconfig.json` makes dist/.

import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
const { openArchive, ArchiveError, UnsupportedFeatureError, displayName } = await import('../../dist/api/index.js').catch((err) => {
  process.stderr.write(`portarc adapter: cannot load dist/api/index.js (run \`npx tsc -p tsconfig.json\` first): ${err.message}\n`);
  process.exit(3);
});

// A crash must never look like a verdict (Node exits 1 on an uncaught error, which means "read with warnings").
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (err) => {
    process.stderr.write(`portarc adapter: crash: ${err?.stack ?? err}\n`);
    process.exit(3);
  });
}

const ZEROS = Buffer.alloc(1 << 16);

/** A malformation the adapter itself notices while expanding content (the body disagrees with the map). */
class Malformed extends Error {}

/** Hash n zero bytes without allocating n bytes. */
function hashZeros(hash, n) {
  while (n > 0) {
    const k = Math.min(n, ZEROS.length);
    hash.update(ZEROS.subarray(0, k));
    n -= k;
  }
}

/** Pulls exact byte counts out of a member body (an async iterable of Buffers). */
class Pull {
  constructor(body) {
    this.it = body[Symbol.asyncIterator]();
    this.chunk = Buffer.alloc(0);
  }
  /** Feed exactly n bytes to `hash`; false when the body ends first. */
  async feed(hash, n) {
    while (n > 0) {
      if (this.chunk.length === 0) {
        const r = await this.it.next();
        if (r.done) return false;
        this.chunk = r.value;
        continue;
      }
      const k = Math.min(n, this.chunk.length);
      hash.update(this.chunk.subarray(0, k));
      this.chunk = this.chunk.subarray(k);
      n -= k;
    }
    return true;
  }
  /** Bytes left in the body (should be none). */
  async rest() {
    let n = this.chunk.length;
    for (let r = await this.it.next(); !r.done; r = await this.it.next()) n += r.value.length;
    return n;
  }
}

/** sha256 of the logical content: the body, or for sparse members the runs with the holes as zeros. */
async function contentSha256(entry, body) {
  const hash = createHash('sha256');
  const pull = new Pull(body);
  if (!entry.sparse) {
    if (!(await pull.feed(hash, entry.size))) throw new Malformed('member body is shorter than its size');
  } else {
    let pos = 0;
    for (const run of entry.sparse) {
      if (run.offset < pos || run.offset + run.length > entry.size) {
        throw new Malformed(`sparse map of "${entry.name}" has runs out of order, overlapping, or past the size ${entry.size}`);
      }
      hashZeros(hash, run.offset - pos);
      if (!(await pull.feed(hash, run.length))) throw new Malformed('sparse member body is shorter than its map');
      pos = run.offset + run.length;
    }
    hashZeros(hash, entry.size - pos);
  }
  if ((await pull.rest()) !== 0) throw new Malformed('member body is longer than its size');
  return hash.digest('hex');
}

/** Text for a byte string, plus its base64 when the bytes are not valid UTF-8. */
function bytesField(out, key, bytes, display) {
  if (isUtf8(bytes)) out[key] = bytes.toString('utf8');
  else {
    out[key] = display;
    out[`${key}Base64`] = bytes.toString('base64');
  }
}

function aclJson(acl) {
  return acl.map((e) => {
    const o = { tag: e.tag, perm: e.perm };
    if (e.id !== undefined) o.id = e.id;
    if (e.name !== undefined && e.name !== '') o.name = e.name;
    return o;
  });
}

async function canonicalEntry(entry, body) {
  const o = {};
  bytesField(o, 'path', entry.path, entry.name);
  Object.assign(o, {
    type: entry.type,
    size: entry.type === 'file' ? entry.size : 0,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    uname: entry.uname,
    gname: entry.gname,
    mtimeNs: entry.mtimeNs.toString(),
  });
  if (entry.atimeNs !== undefined) o.atimeNs = entry.atimeNs.toString();
  if (entry.ctimeNs !== undefined) o.ctimeNs = entry.ctimeNs.toString();
  if (entry.linkTarget !== undefined) {
    bytesField(o, 'linkTarget', entry.linkTarget, displayName(entry.linkTarget));
  }
  if (entry.type === 'chardev' || entry.type === 'blockdev') {
    o.devMajor = entry.devMajor ?? 0;
    o.devMinor = entry.devMinor ?? 0;
  }
  o.xattrs = Object.fromEntries([...entry.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, v.toString('base64')]));
  if (entry.selinux !== undefined) o.selinux = entry.selinux;
  if (entry.aclAccess) o.aclAccess = aclJson(entry.aclAccess);
  if (entry.aclDefault) o.aclDefault = aclJson(entry.aclDefault);
  if (entry.type === 'file') o.sha256 = await contentSha256(entry, body);
  return o;
}

async function main() {
  // A tar (plain, gzip or zstd) or a zip, told apart by the first bytes (spec §4.8). A zip is
  // spooled to a file first: other tools keep modes and symlinks in its central directory only.
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const input = Buffer.concat(chunks);
  let source = (async function* () {
    yield input;
  })();
  let spool;
  if (input.subarray(0, 2).toString('latin1') === 'PK') {
    spool = join(mkdtempSync(join(tmpdir(), 'portarc-adapter-')), 'in.zip');
    writeFileSync(spool, input);
    source = spool;
  }
  const archive = await openArchive(source);
  const entries = [];
  const warnings = [];
  const notices = [];
  try {
    for await (const { entry, body } of archive.members) {
      entries.push(await canonicalEntry(entry, body));
      for (const w of entry.warnings) warnings.push(`${entry.name}: ${w}`);
      for (const n of entry.notices) notices.push(`${entry.name}: ${n}`);
    }
  } finally {
    await archive.close();
    if (spool) rmSync(dirname(spool), { recursive: true, force: true });
  }
  const info = archive.info;
  warnings.unshift(...info.warnings);
  notices.unshift(...info.notices);
  const doc = {
    version: info.version ?? null,
    features: { compat: [...info.features.compat], rocompat: [...info.features.rocompat], incompat: [...info.features.incompat] },
    warnings,
    notices,
    entries,
  };
  return { doc, code: warnings.length ? 1 : 0 };
}

function finish(text, code) {
  if (!text) process.exit(code);
  process.stdout.write(text, () => process.exit(code));
}

try {
  const { doc, code } = await main();
  finish(JSON.stringify(doc, null, 1) + '\n', code);
} catch (err) {
  // Refusals (exit 2) are the library's ArchiveError (UnsupportedFeatureError for unknown incompat
  // features and major versions) and the adapter's own Malformed; anything else is a crash (exit 3).
  const refused = err instanceof ArchiveError || err instanceof Malformed;
  const kind = err instanceof UnsupportedFeatureError ? 'unsupported' : refused ? 'malformed' : 'crash';
  process.stderr.write(`portarc adapter: ${kind}: ${err?.message ?? err}\n`);
  if (!refused) process.stderr.write(`${err?.stack}\n`);
  finish('', refused ? 2 : 3);
}
