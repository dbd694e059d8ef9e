// Deterministic benchmark data sets, built once under $PORTARC_BENCH_DIR (default /tmp/portarc-bench)
// and reused by every run: a set is rebuilt only when its marker file is missing or names another
// generator version or spec.
//
//   import { ensureDataset, DATASETS } from './datasets.mjs';
//   const ds = await ensureDataset('small');   // { name, dir, root: 'tree', files, dirs, bytes, ... }
//   // archive it with: tar -cf out.tar -C ds.dir tree
//
// CLI: node bench/datasets.mjs [NAME...]   (builds the named sets, default all full-size ones, and
//      prints their summaries)
//
// Content is seeded pseudo-random with realistic compressibility: blocks of incompressible bytes
// (AES-CTR keystream: think media, already-compressed files), Zipf-distributed "words" (text, source
// code) and templated log lines (very compressible). The mix differs per file kind. Same version +
// same spec => byte-identical files, names, sizes and xattrs on any machine.

import { createCipheriv, createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Bump when anything below changes what is generated: every set is then rebuilt. */
export const GENERATOR_VERSION = 1;

export const BENCH_DIR = process.env.PORTARC_BENCH_DIR || '/tmp/portarc-bench';
const MARKER = '.portarc-bench-dataset.json';
/** Every file and directory gets this mtime, so archives of a set have the same bytes everywhere. */
const FIXED_MTIME = new Date('2024-01-02T03:04:05Z');

const MiB = 1 << 20;

/**
 * The sets. `quick` variants are the same shapes, tiny, for `npm run bench -- --quick`.
 * big: a few big files; small: many 0–16 KiB files in a tree; xattr: files carrying user.* xattrs
 * and a security.selinux label each.
 */
export const DATASETS = {
  big: { kind: 'big', seed: 1, files: [1024 * MiB, 512 * MiB, 384 * MiB, 128 * MiB] },
  small: { kind: 'small', seed: 2, files: 50_000, maxSize: 16 * 1024, topDirs: 50, subDirs: 20 },
  xattr: { kind: 'xattr', seed: 3, files: 5_000, maxSize: 4 * 1024, dirs: 50 },
  'big-quick': { kind: 'big', seed: 1, files: [32 * MiB, 16 * MiB, 8 * MiB, 8 * MiB] },
  'small-quick': { kind: 'small', seed: 2, files: 2_000, maxSize: 16 * 1024, topDirs: 10, subDirs: 5 },
  'xattr-quick': { kind: 'xattr', seed: 3, files: 300, maxSize: 4 * 1024, dirs: 5 },
};

// ---------------------------------------------------------------------------------------------
// Seeded generators

/** sfc32: small, fast, good enough for choosing sizes and words. */
export class Rng {
  constructor(seed) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32() {
    let { a, b, c, d } = this;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.a = a; this.b = b; this.c = c; this.d = d;
    return t >>> 0;
  }
  /** [0, 1) */
  float() {
    return this.u32() / 4294967296;
  }
  int(n) {
    return Math.floor(this.float() * n);
  }
}

const LETTERS = 'etaoinshrdlcumwfgypbvkjxqz';

/** Fills buffers with a seeded mix of incompressible, text-like and log-like content. */
export class ContentGen {
  constructor(seed) {
    this.rng = new Rng(seed * 7919 + 17);
    const key = createHash('sha256').update(`portarc-bench-${GENERATOR_VERSION}-${seed}`).digest();
    this.cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
    this.zeros = Buffer.alloc(1 * MiB);
    // A vocabulary of 4096 pseudo-words (1–11 letters, frequent letters more often), chosen with a
    // Zipf-like law through a 64 Ki lookup table: compresses like prose or source code.
    const words = [];
    for (let i = 0; i < 4096; i++) {
      const len = 1 + Math.min(10, Math.floor(-Math.log(1 - this.rng.float()) * 4));
      let w = '';
      for (let j = 0; j < len; j++) w += LETTERS[Math.floor(LETTERS.length * this.rng.float() ** 2)];
      words.push(i % 97 === 50 ? w.toUpperCase() : w);
    }
    this.wordBytes = Buffer.from(words.join(''), 'latin1');
    this.wordStart = new Uint32Array(4096);
    this.wordLen = new Uint8Array(4096);
    let off = 0;
    words.forEach((w, i) => {
      this.wordStart[i] = off;
      this.wordLen[i] = w.length;
      off += w.length;
    });
    this.zipf = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) this.zipf[i] = Math.min(4095, Math.floor(4096 * (i / 65536) ** 3.5));
    this.hosts = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    this.svcs = ['sshd', 'nginx', 'postgres', 'cron', 'kernel', 'backupd', 'systemd'];
    this.msgs = ['connection accepted', 'request served', 'checkpoint complete', 'session opened for user', 'cache miss', 'retrying after timeout', 'job finished'];
    this.clock = 1_700_000_000;
  }

  /** Incompressible bytes. */
  random(buf, off, len) {
    while (len > 0) {
      const n = Math.min(len, this.zeros.length);
      const ks = this.cipher.update(this.zeros.subarray(0, n));
      ks.copy(buf, off);
      off += n;
      len -= n;
    }
  }

  /** Words, spaces, punctuation and line breaks (zstd -3: ~2.5–3x). */
  text(buf, off, len) {
    const end = off + len;
    const { wordBytes, wordStart, wordLen, zipf, rng } = this;
    let col = 0;
    while (off < end) {
      const r = rng.u32();
      const w = zipf[r & 0xffff];
      const s = wordStart[w];
      const l = Math.min(wordLen[w], end - off);
      for (let i = 0; i < l; i++) buf[off + i] = wordBytes[s + i];
      off += l;
      col += l + 1;
      if (off >= end) break;
      const p = r >>> 16;
      if (col > 60 + (p & 31)) {
        buf[off++] = 0x0a;
        col = 0;
      } else buf[off++] = (p & 0xf000) === 0 ? 0x2c : (p & 0xff00) === 0x100 ? 0x2e : 0x20;
    }
  }

  /** Timestamped log lines from a few templates (very compressible: ~8–10x). */
  log(buf, off, len) {
    const end = off + len;
    const { rng } = this;
    let chunk = '';
    while (off < end) {
      const r = rng.u32();
      this.clock += r & 3;
      chunk = `${new Date(this.clock * 1000).toISOString()} ${this.hosts[r % 6]} ${this.svcs[(r >>> 3) % 7]}[${1000 + ((r >>> 6) & 1023)}]: ${this.msgs[(r >>> 16) % 7]} id=${r & 0xfffff} bytes=${(r >>> 12) & 0xffff} status=${(r & 0x300000) === 0 ? 500 : 200}\n`;
      off += buf.write(chunk, off, Math.min(chunk.length, end - off), 'latin1');
    }
  }

  /**
   * Fill buf[off, off+len) with blocks of up to `block` bytes, each random / text / log with the
   * given weights (summing to 1).
   */
  mix(buf, off, len, w, block = 64 * 1024) {
    const end = off + len;
    while (off < end) {
      const n = Math.min(end - off, block);
      const x = this.rng.float();
      if (x < w.random) this.random(buf, off, n);
      else if (x < w.random + w.text) this.text(buf, off, n);
      else this.log(buf, off, n);
      off += n;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The sets

function specKey(spec) {
  return JSON.stringify(spec);
}

/** Summary of a set if it is built and current, else null. */
export function readMarker(name) {
  const spec = DATASETS[name];
  const dir = join(BENCH_DIR, 'data', name);
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), 'utf8'));
    if (m.generator !== GENERATOR_VERSION || m.spec !== specKey(spec)) return null;
    if (!existsSync(join(dir, 'tree'))) return null;
    return { ...m, name, dir, root: 'tree' };
  } catch {
    return null;
  }
}

/**
 * Make sure the set `name` exists under $PORTARC_BENCH_DIR/data/NAME/tree and return its summary:
 * { name, dir, root: 'tree', kind, files, dirs, bytes, built: boolean, seconds }.
 */
export async function ensureDataset(name, { log = (s) => process.stderr.write(s + '\n') } = {}) {
  const spec = DATASETS[name];
  if (!spec) throw new Error(`unknown data set ${name} (known: ${Object.keys(DATASETS).join(', ')})`);
  const have = readMarker(name);
  if (have) return { ...have, built: false };
  const dir = join(BENCH_DIR, 'data', name);
  const tmp = `${dir}.building`;
  rmSync(tmp, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(tmp, 'tree'), { recursive: true });
  log(`building data set ${name} in ${dir} (generator v${GENERATOR_VERSION}) ...`);
  const t0 = performance.now();
  const builders = { big: buildBig, small: buildSmall, xattr: buildXattr };
  const stats = builders[spec.kind](join(tmp, 'tree'), spec);
  utimesSync(join(tmp, 'tree'), FIXED_MTIME, FIXED_MTIME);
  const seconds = (performance.now() - t0) / 1000;
  const marker = { generator: GENERATOR_VERSION, spec: specKey(spec), kind: spec.kind, ...stats, builtAt: new Date().toISOString(), buildSeconds: Math.round(seconds * 10) / 10 };
  writeFileSync(join(tmp, MARKER), JSON.stringify(marker, null, 2) + '\n');
  renameSync(tmp, dir);
  log(`built ${name}: ${stats.files} files, ${stats.dirs} dirs, ${(stats.bytes / MiB).toFixed(1)} MiB in ${seconds.toFixed(1)} s`);
  return { ...marker, name, dir, root: 'tree', built: true };
}

/** The kind of content of a file and its mix of blocks. */
const MIXES = {
  disk: { random: 0.35, text: 0.45, log: 0.2 },
  media: { random: 0.9, text: 0.1, log: 0 },
  logs: { random: 0, text: 0.2, log: 0.8 },
  dump: { random: 0.1, text: 0.5, log: 0.4 },
};

function buildBig(root, spec) {
  const gen = new ContentGen(spec.seed);
  const kinds = ['disk', 'media', 'logs', 'dump'];
  const names = ['disk.img', 'video.bin', 'server.log', 'db.dump'];
  const buf = Buffer.alloc(4 * MiB); // reused: fresh memory is slow on this VM
  let bytes = 0;
  spec.files.forEach((size, i) => {
    const path = join(root, names[i % names.length]);
    const fd = openSync(path, 'w', 0o644);
    for (let done = 0; done < size; ) {
      const n = Math.min(buf.length, size - done);
      gen.mix(buf, 0, n, MIXES[kinds[i % kinds.length]]);
      writeSync(fd, buf, 0, n);
      done += n;
    }
    closeSync(fd);
    utimesSync(path, FIXED_MTIME, FIXED_MTIME);
    bytes += size;
  });
  return { files: spec.files.length, dirs: 1, bytes };
}

/** Small-file size law: 16 KiB * u^4 → median ~1 KiB, mean ~3.2 KiB, some empty files. */
function smallSize(rng, max) {
  return Math.floor((max + 1) * rng.float() ** 4);
}

/** A file of a small set: its kind picks the name suffix and the content mix. */
function smallFile(gen, rng, buf, max) {
  const size = smallSize(rng, max);
  const x = rng.float();
  let ext, w;
  if (x < 0.5) [ext, w] = ['.c', { random: 0, text: 1, log: 0 }];
  else if (x < 0.65) [ext, w] = ['.log', { random: 0, text: 0, log: 1 }];
  else if (x < 0.9) [ext, w] = ['.jpg', { random: 1, text: 0, log: 0 }];
  else [ext, w] = ['.dat', { random: 0.3, text: 0.5, log: 0.2 }];
  gen.mix(buf, 0, size, w, 4096);
  return { size, ext };
}

function buildSmall(root, spec) {
  const gen = new ContentGen(spec.seed);
  const rng = new Rng(spec.seed);
  const buf = Buffer.alloc(spec.maxSize + 1);
  const dirs = new Set();
  let bytes = 0;
  for (let i = 0; i < spec.files; i++) {
    const top = rng.int(spec.topDirs);
    const sub = rng.int(spec.subDirs);
    const rel = `d${String(top).padStart(2, '0')}/s${String(sub).padStart(2, '0')}`;
    const d = join(root, rel);
    if (!dirs.has(rel)) {
      mkdirSync(d, { recursive: true });
      dirs.add(rel);
      dirs.add(rel.split('/')[0]);
    }
    const { size, ext } = smallFile(gen, rng, buf, spec.maxSize);
    const path = join(d, `f${String(i).padStart(5, '0')}${ext}`);
    writeFileSync(path, buf.subarray(0, size), { mode: 0o644 });
    utimesSync(path, FIXED_MTIME, FIXED_MTIME);
    bytes += size;
  }
  for (const rel of dirs) utimesSync(join(root, rel), FIXED_MTIME, FIXED_MTIME);
  return { files: spec.files, dirs: dirs.size + 1, bytes };
}

const SELINUX_TYPES = ['user_home_t', 'etc_t', 'var_log_t', 'httpd_sys_content_t', 'bin_t', 'lib_t', 'postgresql_db_t', 'container_file_t'];

/** The xattrs of file i of an xattr set: name → Buffer. Exported so a checker can recompute them. */
export function xattrsFor(rng, i) {
  const x = new Map();
  const t = SELINUX_TYPES[rng.int(SELINUX_TYPES.length)];
  const cats = rng.float() < 0.3 ? `:c${rng.int(1024)},c${rng.int(1024)}` : '';
  // With the trailing NUL, as the kernel stores labels set by SELinux-aware tools.
  x.set('security.selinux', Buffer.from(`system_u:object_r:${t}:s0${cats}\0`, 'latin1'));
  x.set('user.comment', Buffer.from(`backup test file ${i}: ${'lorem ipsum '.repeat(1 + rng.int(8))}`.trim(), 'latin1'));
  if (rng.float() < 0.7) x.set('user.origin', Buffer.from(`https://example.org/items/${rng.u32()}?rev=${rng.int(100)}`, 'latin1'));
  if (rng.float() < 0.5) {
    const h = Buffer.alloc(32);
    for (let j = 0; j < 32; j += 4) h.writeUInt32BE(rng.u32(), j);
    x.set('user.sha256', h); // binary value
  }
  if (rng.float() < 0.1) x.set('user.mime_type', Buffer.from('application/octet-stream', 'latin1'));
  return x;
}

function buildXattr(root, spec) {
  const gen = new ContentGen(spec.seed);
  const rng = new Rng(spec.seed);
  const xrng = new Rng(spec.seed + 1000);
  const buf = Buffer.alloc(spec.maxSize + 1);
  const dump = [];
  const dirs = new Set();
  let bytes = 0;
  let xattrs = 0;
  for (let i = 0; i < spec.files; i++) {
    const rel = `dir${String(rng.int(spec.dirs)).padStart(2, '0')}`;
    if (!dirs.has(rel)) {
      mkdirSync(join(root, rel), { recursive: true });
      dirs.add(rel);
      dump.push(`# file: ${rel}\nsecurity.selinux=0x${Buffer.from('system_u:object_r:user_home_dir_t:s0\0').toString('hex')}\n`);
      xattrs++;
    }
    const size = Math.floor((spec.maxSize + 1) * rng.float() ** 2);
    gen.mix(buf, 0, size, { random: 0.2, text: 0.6, log: 0.2 }, 1024);
    const relFile = `${rel}/x${String(i).padStart(5, '0')}.txt`;
    writeFileSync(join(root, relFile), buf.subarray(0, size), { mode: 0o640 });
    utimesSync(join(root, relFile), FIXED_MTIME, FIXED_MTIME);
    bytes += size;
    let lines = `# file: ${relFile}\n`;
    for (const [k, v] of xattrsFor(xrng, i)) {
      lines += `${k}=0x${v.toString('hex')}\n`;
      xattrs++;
    }
    dump.push(lines);
  }
  // One setfattr run for all files (one per file would cost ~15 ms each).
  const r = spawnSync('setfattr', ['-h', '--restore=-'], { cwd: root, input: dump.join('\n') + '\n', encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`setfattr --restore failed (${r.error?.message ?? r.stderr.trim()}); the xattr set needs setfattr (package attr) and a filesystem with user and security xattrs`);
  // Setting xattrs changes ctime only, so the mtimes set above stay.
  for (const rel of dirs) utimesSync(join(root, rel), FIXED_MTIME, FIXED_MTIME);
  return { files: spec.files, dirs: dirs.size + 1, bytes, xattrs };
}

// CLI
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ['big', 'small', 'xattr'];
  for (const n of names) {
    const ds = await ensureDataset(n);
    process.stdout.write(`${n}: ${ds.dir}/tree  ${ds.files} files, ${ds.dirs} dirs, ${(ds.bytes / MiB).toFixed(1)} MiB${ds.xattrs ? `, ${ds.xattrs} xattrs` : ''}${ds.built ? ` (built in ${ds.buildSeconds} s)` : ' (reused)'}\n`);
  }
}
