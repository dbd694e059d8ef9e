#!/usr/bin/env node
// Regenerate the manifest vectors (conformance/manifest/): archives with a manifest, without one,
// damaged in each place verify must name, and with manifests of later versions. Each NAME.tar (or
// .zip) has a NAME.json with what `portarc verify --json` must answer: ok, checkedContent, and the
// damaged parts (and entry paths). Spec: spec/manifest.md §6 (later versions), §8 (verify).
// Usage: node conformance/tools/manifest-vectors.mjs   (needs dist/, GNU tar; run as any user)
// Not written here, and never rewritten: y_manifest-1.0.tar/.zip and n_manifest-1.0-header-damaged.tar
// (with their .json), made by portarc 0.1.0's writer (manifest 1.0, whose whole-archive digest is of
// the bytes): a reader must still verify them (spec/manifest.md §6).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, scan, verify } from '../../dist/api/index.js';
import { TRAILER_MAGIC, decodeTrailer, encodeTrailer } from '../../dist/manifest/index.js';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'manifest');
const T0 = 1600000000;
const w = mkdtempSync(join(tmpdir(), 'portarc-manifest-vectors-'));
const src = join(w, 'src');
mkdirSync(join(src, 'd'), { recursive: true });
writeFileSync(join(src, 'd', 'hello.txt'), 'hello portarc\n');
writeFileSync(join(src, 'd', 'data.bin'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 255)));
// A name that is not UTF-8 and holds '%': the manifest escapes both (spec/manifest.md §4).
writeFileSync(Buffer.concat([Buffer.from(join(src, 'bad-')), Buffer.from([0xff]), Buffer.from('%.txt')]), 'odd name\n');
symlinkSync('d/hello.txt', join(src, 'link'));
linkSync(join(src, 'd', 'hello.txt'), join(src, 'hard'));
execFileSync('bash', ['-c', `chmod 644 d/* hard bad-*; chmod 755 d .; find . -exec touch -h -d @${T0} {} +`], { cwd: src });

async function* entries() {
  for await (const s of scan(['.'], { cwd: src })) {
    delete s.entry.atimeNs;
    delete s.entry.ctimeNs;
    s.entry.uid = s.entry.gid = 0;
    s.entry.uname = s.entry.gname = 'root';
    yield s;
  }
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

/** Replace `from` by `to` (same length) inside the manifest XML, and rewrite the trailer to match. */
function rewriteManifest(bytes, from, to) {
  if (from.length !== to.length) throw new Error(`"${to}" must be ${from.length} bytes`);
  const b = Buffer.from(bytes);
  const at = b.lastIndexOf(TRAILER_MAGIC, undefined, 'latin1');
  const t = decodeTrailer(b.subarray(at));
  const xml = b.subarray(t.manifestData, t.manifestData + t.manifestSize);
  const i = xml.indexOf(from);
  if (i < 0) throw new Error(`"${from}" not in the manifest`);
  xml.write(to, i, 'latin1');
  const fixed = encodeTrailer({ ...t, manifestSha256: sha(xml), memberSha256: sha(b.subarray(t.manifestOffset, t.manifestEnd)) });
  fixed.copy(b, at);
  return b;
}

function flipAt(bytes, at) {
  const b = Buffer.from(bytes);
  b[at] ^= 0x20;
  return b;
}

async function write(name, bytes) {
  const file = join(OUT, name);
  writeFileSync(file, bytes);
  const r = await verify(file);
  const parts = [...new Set(r.damaged.map((d) => d.part))].sort();
  const paths = [...new Set(r.damaged.map((d) => d.path).filter((p) => p !== undefined))].sort();
  writeFileSync(file.replace(/\.(tar|zip)$/, '.json'), JSON.stringify({ ok: r.ok, checkedContent: r.checkedContent, parts, paths }, null, 2) + '\n');
  console.log(`${name}: ok=${r.ok} checkedContent=${r.checkedContent} parts=${parts.join(',')} paths=${paths.join(',')}`);
}

mkdirSync(OUT, { recursive: true });
const tarFile = join(w, 'a.tar');
await create(entries(), tarFile);
const tar = readFileSync(tarFile);
const zipFile = join(w, 'a.zip');
await create(entries(), zipFile);
await write('y_manifest-present.tar', tar);
await write('y_manifest-present.zip', readFileSync(zipFile));
execFileSync('tar', ['--format=pax', '--pax-option=delete=atime,delete=ctime', '--mtime', `@${T0}`, '--owner=0', '--group=0', '--sort=name', '-cf', join(w, 'gnu.tar'), '-C', src, '.']);
await write('y_manifest-absent-gnutar.tar', readFileSync(join(w, 'gnu.tar')));
// Damage, one place each: content of d/hello.txt, a header byte of d/data.bin (its mtime field), the XML, the trailer.
await write('n_manifest-content-damaged.tar', flipAt(tar, tar.indexOf('hello portarc')));
const dataHeader = tar.indexOf('./d/data.bin');
await write('n_manifest-header-damaged.tar', flipAt(tar, dataHeader + 136 + 3));
const at = tar.lastIndexOf(TRAILER_MAGIC, undefined, 'latin1');
const t = decodeTrailer(tar.subarray(at));
await write('n_manifest-xml-damaged.tar', flipAt(tar, t.manifestData + t.manifestSize - 30));
await write('n_manifest-trailer-damaged.tar', flipAt(tar, at + 100));
// Not damage but a faulty writer: the manifest lists ./link and ./hard at each other's members,
// every digest right (spec/manifest.md §8.2: the headers name another path).
await write('n_manifest-names-swapped.tar', rewriteManifest(rewriteManifest(rewriteManifest(tar, 'path="./link"', 'path="./XXXX"'), 'path="./hard"', 'path="./link"'), 'path="./XXXX"', 'path="./hard"'));
// Later versions: a minor one with an unknown element and attribute is read; a major one is not used.
const features = '<features compat="manifest" rocompat="" incompat=""/>';
const later = '<features compat="manifest" x="1"/><parity n="3"/>';
await write('y_manifest-future-minor.tar', rewriteManifest(rewriteManifest(tar, '" version="2.0" spec=', '" version="2.7" spec='), features, later.padEnd(features.length, ' ')));
await write('y_manifest-future-major.tar', rewriteManifest(tar, '" version="2.0" spec=', '" version="3.0" spec='));
rmSync(w, { recursive: true, force: true });
