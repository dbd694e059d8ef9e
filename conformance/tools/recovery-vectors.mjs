#!/usr/bin/env node
// Regenerate the embedded recovery vectors (conformance/recovery/): archives with PAR2 recovery data
// embedded after the archive in the same file (spec/recovery.md §10), clean in each container, and
// damaged in the archive, in the region, and with a locator of a later layout version. Each NAME has
// a NAME.json with what `portarc verify --json` must answer (ok, checkedContent, the damaged parts
// and entry paths, the recovery data's state) and what `portarc repair -o OUT` must do ("repair":
// exit status, and the vector OUT must equal byte for byte, or the error code).
// Usage: node conformance/tools/recovery-vectors.mjs [OUTDIR]   (needs dist/; default OUTDIR:
// conformance/recovery). The output is deterministic: a second run writes the same bytes.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, scan, verify } from '../../dist/api/index.js';

const OUT = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'recovery');
const T0 = 1600000000;
const PERCENT = 10;
const w = mkdtempSync(join(tmpdir(), 'portarc-recovery-vectors-'));
const src = join(w, 'src');
mkdirSync(join(src, 'd'), { recursive: true });

// Fixed content: incompressible bytes from a fixed xorshift32 sequence (so the compressed archives
// are not tiny), and text.
let x = 14;
const noise = Buffer.alloc(40000);
for (let i = 0; i < noise.length; i++) {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  noise[i] = x & 255;
}
writeFileSync(join(src, 'd', 'noise.bin'), noise);
writeFileSync(join(src, 'd', 'hello.txt'), 'hello portarc\n');
writeFileSync(join(src, 'lines.txt'), Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join(''));
for (const [p, mode] of [['d/noise.bin', 0o644], ['d/hello.txt', 0o644], ['lines.txt', 0o644], ['d', 0o755], ['.', 0o755]]) {
  chmodSync(join(src, p), mode);
  utimesSync(join(src, p), T0, T0);
}

async function* entries() {
  for await (const s of scan(['.'], { cwd: src })) {
    delete s.entry.atimeNs;
    delete s.entry.ctimeNs;
    s.entry.mtimeNs = BigInt(T0) * 1000000000n;
    s.entry.uid = s.entry.gid = 0;
    s.entry.uname = s.entry.gname = 'root';
    yield s;
  }
}

const md5 = (b) => createHash('md5').update(b).digest();
const LOCATOR_TYPE = Buffer.from('PORTARC\0EmbedLoc', 'latin1');
const RECOVERY_TYPE = Buffer.from('PAR 2.0\0RecvSlic', 'latin1');

/** Offsets of every PAR2 packet of type `type` in `b` (tar and zip: packets are stored as they are). */
function packets(b, type) {
  const out = [];
  for (let at = b.indexOf('PAR2\0PKT'); at >= 0; at = b.indexOf('PAR2\0PKT', at + 8)) if (b.subarray(at + 48, at + 64).equals(type)) out.push(at);
  return out;
}

/** Every locator's layout version set to `version`, its packet MD5 computed again. */
function withLayoutVersion(bytes, version) {
  const b = Buffer.from(bytes);
  const found = packets(b, LOCATOR_TYPE);
  if (found.length !== 2) throw new Error(`expected 2 locators, found ${found.length}`);
  for (const at of found) {
    b.writeUInt32LE(version, at + 64 + 24);
    md5(b.subarray(at + 32, at + Number(b.readBigUInt64LE(at + 8)))).copy(b, at + 16);
  }
  return b;
}

/** `len` bytes from `at` flipped. */
function burst(bytes, at, len) {
  const b = Buffer.from(bytes);
  for (let i = at; i < at + len; i++) b[i] ^= 0xa5;
  return b;
}

async function write(name, bytes, repair, note) {
  const file = join(OUT, name);
  writeFileSync(file, bytes);
  const r = await verify(file);
  const parts = [...new Set(r.damaged.map((d) => d.part))].sort();
  const paths = [...new Set(r.damaged.map((d) => d.path).filter((p) => p !== undefined))].sort();
  const recovery = r.recovery ? { embedded: r.recovery.embedded === true, damagedBlocks: r.recovery.damagedBlocks, repairable: r.recovery.repairable } : null;
  if (note && !r.notes.some((n) => n.includes(note))) throw new Error(`${name}: no note with "${note}": ${r.notes.join(' | ')}`);
  const expected = { ok: r.ok, checkedContent: r.checkedContent, parts, paths, recovery, ...(note ? { note } : {}), repair };
  writeFileSync(`${file}.json`, JSON.stringify(expected, null, 2) + '\n');
  console.log(`${name}: ${bytes.length} bytes, ok=${r.ok} parts=${parts.join(',')} recovery=${JSON.stringify(recovery)}`);
}

mkdirSync(OUT, { recursive: true });
const made = {};
for (const [ext, compression] of [['tar', 'none'], ['tar.gz', 'gzip'], ['tar.zst', 'zstd'], ['zip', undefined]]) {
  const file = join(w, `y_embedded.${ext}`);
  await create(entries(), file, { ...(compression ? { compression } : {}), threads: 0, embedRecovery: PERCENT });
  made[ext] = readFileSync(file);
  await write(`y_embedded.${ext}`, made[ext], { exit: 0, identicalTo: `y_embedded.${ext}` });
}

// A burst inside the archive (in d/noise.bin's content): within the budget, repair gives y_embedded.tar.
const tar = made.tar;
await write('n_embedded-archive-damaged.tar', burst(tar, tar.indexOf(noise.subarray(10000, 10032)), 1500), { exit: 0, identicalTo: 'y_embedded.tar' });
// A recovery packet damaged (a byte of its slice): verify names part "recovery"; repair writes it again.
const zip = made.zip;
const recv = packets(zip, RECOVERY_TYPE);
await write('n_embedded-region-damaged.zip', burst(zip, recv[1] + 200, 1), { exit: 0, identicalTo: 'y_embedded.zip' });
// A locator of layout version 2: the archive before the region is checked; repair refuses.
await write('y_embedded-future-layout.tar', withLayoutVersion(tar, 2), { exit: 2, code: 'PORTARC_UNSUPPORTED' }, 'has layout version 2');
rmSync(w, { recursive: true, force: true });
