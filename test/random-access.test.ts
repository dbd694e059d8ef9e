// Random access through the manifest (issue #10 part 2; spec/manifest.md §12): open() reads one
// member out of a 64 MiB plain tar, seekable .tar.zst and zip by its offsets, measured by the bytes
// the source delivered; over HTTP against a local server that serves Range requests and counts what
// it sends; `extract -f A PATH...` and `list -f A PATH...` through the CLI; damage found as it streams;
// gzip and stdin read in one streaming pass.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, linkSync, mkdirSync, readFileSync, statSync, writeFileSync, existsSync, openSync, readSync, closeSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DamagedError, ExtractDamagedError, IoError, SeekTable, extract, fileReader, httpSource } from '../src/api/index.js';
import { open } from '../src/api/random.js';
import { TRAILER_MAGIC, decodeTrailer } from '../src/manifest/trailer.js';
import { open as openFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { BIN, portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

const MiB = 1 << 20;

/** The CLI without blocking this process's event loop (the HTTP server under test runs in it). */
function portarcAsync(args: string[], env?: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env && { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The trailer of a plain tar (its text is 1536 bytes from the end: trailer block, two zero blocks). */
function tarTrailer(file: string) {
  const b = readFileSync(file);
  const at = b.lastIndexOf(TRAILER_MAGIC);
  return decodeTrailer(b.subarray(at));
}

const dir = tempDir('random');
const src = join(dir, 'src');
const tar = join(dir, 'big.tar');
const zst = join(dir, 'big.tar.zst');
const zip = join(dir, 'big.zip');
const tgz = join(dir, 'big.tar.gz');
const needle = randomBytes(200 * 1024);

beforeAll(() => {
  // 64 MiB in 16 files of 4 MiB (incompressible: each zstd frame is ~4 MiB on disk, so reading a
  // frame too many shows), a small file in the middle, a hardlink to it, nested directories.
  mkdirSync(join(src, 'a/b'), { recursive: true });
  mkdirSync(join(src, 'z'), { recursive: true });
  for (let i = 0; i < 8; i++) writeFileSync(join(src, `a/fill${i}.bin`), randomBytes(4 * MiB));
  writeFileSync(join(src, 'a/b/needle.bin'), needle);
  writeFileSync(join(src, 'a/b/other.txt'), 'other\n');
  linkSync(join(src, 'a/b/needle.bin'), join(src, 'z/link.bin'));
  for (let i = 0; i < 8; i++) writeFileSync(join(src, `z/fill${i}.bin`), randomBytes(4 * MiB));
  for (const f of [tar, zst, zip, tgz]) {
    const r = portarc(['create', '-f', f, '-C', src, '.']);
    expect(r.status, r.stderr).toBe(0);
  }
}, 120_000);

describe('open(): one member by the manifest, measured in bytes read', () => {
  it('plain tar: reads the needle with under 1 MiB read out of 64 MiB, content verified', async () => {
    expect(statSync(tar).size).toBeGreaterThan(64 * MiB);
    const a = await open(tar);
    expect(a.info.method).toBe('manifest');
    const got = await readAll(a.read('a/b/needle.bin'));
    expect(sha(got)).toBe(sha(needle));
    const t = tarTrailer(tar);
    // Tail + manifest + the member's header and data: nothing else.
    expect(a.bytesRead!).toBeLessThan(MiB);
    expect(a.bytesRead!).toBeLessThan(needle.length + t.manifestSize + 32 * 1024);
    const e = await a.get('./a/b/needle.bin');
    expect(e?.type).toBe('file');
    expect(e?.size).toBe(needle.length);
    expect(e?.mode).toBe(statSync(join(src, 'a/b/needle.bin')).mode & 0o7777);
    await a.close();
  });

  it('seekable .tar.zst: reads one frame for the member plus the seek table and the frames holding the manifest and trailer', async () => {
    const fh = await openFile(zst, 'r');
    const table = (await SeekTable.read(fileReader(fh)))!;
    await fh.close();
    expect(table.frames).toBeGreaterThan(15);
    const a = await open(zst);
    expect(a.info).toMatchObject({ method: 'manifest', compression: 'zstd' });
    // Where the needle and the manifest are in the uncompressed stream, from the index.
    let offset = -1;
    for await (const e of a.entries()) if (e.name.endsWith('needle.bin')) offset = e.offset;
    const before = a.bytesRead!;
    const got = await readAll(a.read('a/b/needle.bin'));
    expect(sha(got)).toBe(sha(needle));
    const spent = a.bytesRead! - before;
    // The member's frames (its header and 200 KiB of data may straddle two frames), nothing else.
    const first = table.locate(offset).frame;
    const last = table.locate(offset + 1024 + needle.length).frame;
    let frames = 0;
    for (let i = first; i <= last; i++) frames += table.frame(i).compressedSize;
    expect(spent).toBeLessThanOrEqual(frames + 4096);
    // Opening cost: the seek table and the frames from the manifest (or the last 16 KiB) to the end.
    const plain = spawnSync('zstd', ['-dc', zst], { maxBuffer: 1 << 28 }).stdout;
    const t = decodeTrailer(plain.subarray(plain.lastIndexOf(TRAILER_MAGIC)));
    let tail = 0;
    for (let i = table.locate(Math.min(t.manifestOffset, plain.length - 16384)).frame; i < table.frames; i++) tail += table.frame(i).compressedSize;
    const tableBytes = 8 + 12 * table.frames + 9;
    expect(before).toBeLessThanOrEqual(tableBytes + 9 + 4 + tail);
    expect(a.bytesRead!).toBeLessThan(statSync(zst).size / 4);
    await a.close();
  });

  it('zip: reads the central directory and the member, not the archive', async () => {
    const a = await open(zip);
    expect(a.info).toMatchObject({ method: 'manifest', format: 'zip' });
    expect(sha(await readAll(a.read('a/b/needle.bin')))).toBe(sha(needle));
    expect(a.bytesRead!).toBeLessThan(2 * MiB);
    await a.close();
  });

  it('a hardlink reads as its target content; entries() lists every entry from the manifest alone', async () => {
    const a = await open(tar);
    expect(sha(await readAll(a.read('z/link.bin')))).toBe(sha(needle));
    const names: string[] = [];
    for await (const e of a.entries()) names.push(e.name.replace(/^\.\//, ''));
    expect(names).toContain('z/link.bin');
    expect(names).toContain('a/b');
    expect(names.filter((n) => n.startsWith('.portarc'))).toEqual([]);
    await a.close();
  });

  it('gzip is not seekable: one streaming pass, said in info, same content', async () => {
    const a = await open(tgz);
    expect(a.info.method).toBe('stream');
    expect(a.info.notes.join(' ')).toMatch(/gzip is not seekable/);
    expect(sha(await readAll(a.read('a/b/needle.bin')))).toBe(sha(needle));
    expect(sha(await readAll(a.read('z/link.bin')))).toBe(sha(needle));
    await a.close();
  });

  it('an archive without a manifest (GNU tar): open() says so and reads it in one pass; extract PATH works', async () => {
    const gnu = join(dir, 'gnu.tar');
    expect(spawnSync('tar', ['-cf', gnu, '-C', src, 'a/b', 'z/link.bin']).status).toBe(0);
    const a = await open(gnu);
    expect(a.info.method).toBe('stream');
    expect(a.info.notes.join(' ')).toMatch(/no manifest/);
    expect(sha(await readAll(a.read('a/b/needle.bin')))).toBe(sha(needle));
    expect((await a.get('z/link.bin'))?.type).toBe('hardlink');
    await a.close();
    const out = join(dir, 'gnu-out');
    const r = portarc(['extract', '-f', gnu, '-C', out, 'z/link.bin', 'a/b/other.txt']);
    expect(r.status, r.stderr).toBe(0);
    expect(sha(readFileSync(join(out, 'z/link.bin')))).toBe(sha(needle));
    expect(readFileSync(join(out, 'a/b/other.txt'), 'utf8')).toBe('other\n');
  });

  it('a name stored twice (tar -r): read() and get() give the last copy, as extraction keeps it; a stream read once fails rather than give the first', async () => {
    // A streaming open() gave the first (stale) copy, extract() the last.
    const d = join(dir, 'dup');
    mkdirSync(d);
    writeFileSync(join(d, 'f'), 'v1');
    expect(spawnSync('tar', ['-cf', 'u.tar', 'f'], { cwd: d }).status).toBe(0);
    writeFileSync(join(d, 'f'), 'v2-newer');
    expect(spawnSync('tar', ['-rf', 'u.tar', 'f'], { cwd: d }).status).toBe(0);
    // And a hardlink made after the first copy, before the second: extraction links it to the first.
    writeFileSync(join(d, 'g'), 'g1');
    spawnSync('sh', ['-c', 'tar -cf v.tar g && ln g h && tar -rf v.tar h && rm h && printf g2-newer > g && tar -rf v.tar g'], { cwd: d });
    writeFileSync(join(d, 'u.tar.gz'), gzipSync(readFileSync(join(d, 'u.tar'))));
    for (const f of ['u.tar', 'u.tar.gz']) {
      const a = await open(join(d, f));
      expect(a.info.method).toBe('stream');
      expect((await readAll(a.read('f'))).toString(), f).toBe('v2-newer');
      expect((await a.get('f'))?.size).toBe(8);
      await a.close();
    }
    const v = await open(join(d, 'v.tar'));
    expect((await readAll(v.read('h'))).toString()).toBe('g1');
    expect((await readAll(v.read('g'))).toString()).toBe('g2-newer');
    await v.close();
    const x = join(d, 'x');
    await extract(join(d, 'v.tar'), x);
    expect([readFileSync(join(x, 'h'), 'utf8'), readFileSync(join(x, 'g'), 'utf8')]).toEqual(['g1', 'g2-newer']);
    const piped = await open(createReadStream(join(d, 'u.tar')));
    await expect(readAll(piped.read('f'))).rejects.toThrow(/holds "f" more than once .* the content given was of the copy at offset 0/);
  });

  it('a changed byte in the member data is DamagedError naming the entry, thrown as the content streams', async () => {
    const bad = join(dir, 'bad.tar');
    const b = readFileSync(tar);
    const at = b.indexOf(needle.subarray(0, 64));
    b[at + 1000] ^= 1;
    writeFileSync(bad, b);
    const a = await open(bad);
    const err = await readAll(a.read('a/b/needle.bin')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DamagedError);
    expect((err as DamagedError).message).toContain('needle.bin');
    expect((err as DamagedError).code).toBe('PORTARC_DAMAGED');
    // A changed header byte is found before any content is given out.
    const b2 = readFileSync(tar);
    const h = b2.indexOf('other.txt');
    b2[h + 300] ^= 1; // inside the header range, not the name
    writeFileSync(bad, b2);
    const a2 = await open(bad);
    await expect(a2.get('a/b/other.txt')).rejects.toThrow(/header .* does not match the manifest/);
    await a.close();
    await a2.close();
  });
});

/**
 * A static file server over `dir` that serves `Range: bytes=A-B` with 206 and counts the bytes of
 * content it sends in `counter.sent`; `counter.ignoreRanges` makes it answer 200 with the whole file.
 */
function rangeHandler(counter: { sent: number; ignoreRanges: boolean }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const file = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    if (!existsSync(file)) return void res.writeHead(404).end();
    const size = statSync(file).size;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const count = (n: number) => (counter.sent += n);
    if (!m || counter.ignoreRanges) {
      res.writeHead(200, { 'Content-Length': size });
      const s = createReadStream(file);
      s.on('data', (c) => count((c as Buffer).length));
      return void s.pipe(res);
    }
    const a = Number(m[1]);
    const b = Math.min(Number(m[2]), size - 1);
    const buf = Buffer.alloc(b - a + 1);
    const fd = openSync(file, 'r');
    readSync(fd, buf, 0, buf.length, a);
    closeSync(fd);
    res.writeHead(206, { 'Content-Range': `bytes ${a}-${b}/${size}`, 'Content-Length': buf.length });
    count(buf.length);
    res.end(buf);
  };
}

describe('open() over HTTP: ranged reads from a local server', () => {
  let server: Server;
  let base = '';
  const counter = { sent: 0, ignoreRanges: false };
  beforeAll(async () => {
    server = createServer(rangeHandler(counter));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('one file out of a 64 MiB tar: the server sends under 2x its size plus the manifest', async () => {
    counter.sent = 0;
    const a = await open(`${base}/big.tar`);
    expect(a.info.method).toBe('manifest');
    expect(sha(await readAll(a.read('a/b/needle.bin')))).toBe(sha(needle));
    await a.close();
    const t = tarTrailer(tar);
    expect(counter.sent).toBeGreaterThan(needle.length);
    expect(counter.sent).toBeLessThan(2 * needle.length + t.manifestSize);
  });

  it('the same from the .tar.zst and the zip; extract -f URL PATH restores it', async () => {
    for (const f of ['big.tar.zst', 'big.zip']) {
      counter.sent = 0;
      const a = await open(`${base}/${f}`);
      expect(sha(await readAll(a.read('a/b/needle.bin')))).toBe(sha(needle));
      await a.close();
      expect(counter.sent).toBeLessThan(statSync(join(dir, f)).size / 4);
    }
    counter.sent = 0;
    const out = join(dir, 'http-out');
    const r = await portarcAsync(['extract', '-f', `${base}/big.tar`, '-C', out, 'a/b/needle.bin']);
    expect(r.status, r.stderr).toBe(0);
    expect(sha(readFileSync(join(out, 'a/b/needle.bin')))).toBe(sha(needle));
    expect(counter.sent).toBeLessThan(2 * needle.length + tarTrailer(tar).manifestSize);
  });

  it('a .tar.gz over HTTP is read in one pass and checked there: damage is a DamagedError / exit 2 naming the file, after its bytes', async () => {
    // open()'s streaming pass once checked nothing: read(), members() and extract -f URL PATH
    // handed out a flipped byte without a word.
    const b = readFileSync(tar);
    b[b.indexOf(needle.subarray(0, 64)) + 5000] ^= 1;
    writeFileSync(join(dir, 'bad-http.tar.gz'), gzipSync(b));
    const a = await open(`${base}/bad-http.tar.gz`);
    expect(a.info.method).toBe('stream');
    const got: Buffer[] = [];
    const err = await (async () => {
      for await (const c of a.read('a/b/needle.bin')) got.push(c);
    })().catch((e: unknown) => e);
    await a.close();
    expect(err).toBeInstanceOf(DamagedError);
    expect((err as Error).message).toMatch(/needle\.bin.*content does not match the manifest/);
    expect(Buffer.concat(got).length).toBe(needle.length);
    const m = await open(`${base}/bad-http.tar.gz`);
    const err2 = await (async () => {
      for await (const x of m.members((p) => p.toString().includes('a/b/'))) for await (const c of x.body) void c;
    })().catch((e: unknown) => e);
    await m.close();
    expect(err2).toBeInstanceOf(DamagedError);
    // extract reads it in one pass like a stream: the damaged file is set aside, never under its name.
    const r = await portarcAsync(['extract', '-f', `${base}/bad-http.tar.gz`, '-C', join(dir, 'http-bad'), 'a/b/needle.bin']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needle\.bin.*content does not match the manifest.*kept as .*needle\.bin\.damaged/);
    expect(existsSync(join(dir, 'http-bad', 'a/b/needle.bin'))).toBe(false);
    const all = await portarcAsync(['extract', '-f', `${base}/big.tar.gz`, '-C', join(dir, 'http-gz-all')]);
    expect(all.status, all.stderr).toBe(0);
    expect(sha(readFileSync(join(dir, 'http-gz-all', 'a/b/needle.bin')))).toBe(sha(needle));
    const good = await open(`${base}/big.tar.gz`);
    expect(sha(await readAll(good.read('a/b/needle.bin')))).toBe(sha(needle));
    await good.close();
  });

  it('extract -f URL with no PATH restores the whole archive by ranged reads', async () => {
    const out = join(dir, 'http-all');
    const r = await portarcAsync(['extract', '-f', `${base}/big.tar.zst`, '-C', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(sha(readFileSync(join(out, 'a/b/needle.bin')))).toBe(sha(needle));
    expect(readFileSync(join(out, 'z/fill7.bin')).equals(readFileSync(join(src, 'z/fill7.bin')))).toBe(true);
    expect(statSync(join(out, 'z/link.bin')).ino).toBe(statSync(join(out, 'a/b/needle.bin')).ino);
  });

  it('list -f URL and verify -f URL (no PATH) read the whole archive by ranged reads, named by the URL', async () => {
    // They took the URL for a file name: "cannot open the archive: no such file or directory".
    for (const f of ['big.tar', 'big.tar.zst', 'big.tar.gz', 'big.zip']) {
      const local = await portarcAsync(['list', '-f', join(dir, f)]);
      const remote = await portarcAsync(['list', '-f', `${base}/${f}`]);
      expect(remote.status, remote.stderr).toBe(0);
      expect(remote.stdout).toBe(local.stdout);
      expect(remote.stdout).toMatch(/a\/b\/needle\.bin\n/);
      const v = await portarcAsync(['verify', '-f', `${base}/${f}`]);
      expect(v.status, `${f}: ${v.stdout} ${v.stderr}`).toBe(0);
      expect(v.stdout).toBe(`${base}/${f}: OK: ${v.stdout.match(/OK: (\d+) entries/)?.[1]} entries, contents checked against the manifest\n`);
    }
    const b = readFileSync(tar);
    b[b.indexOf(needle.subarray(0, 64)) + 5000] ^= 1;
    writeFileSync(join(dir, 'bad-url.tar.gz'), gzipSync(b));
    const bad = await portarcAsync(['verify', '-f', `${base}/bad-url.tar.gz`]);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toContain(`${base}/bad-url.tar.gz: damaged: `);
    expect(bad.stdout).toMatch(/content of "\.\/a\/b\/needle\.bin", bytes \d+–\d+: content does not match its SHA-256 in the manifest/);
    const gone = await portarcAsync(['list', '-f', `${base}/missing.tar`]);
    expect(gone.status).toBe(2);
    expect(gone.stderr).toMatch(new RegExp(`portarc: error: ${base.replace(/[.:/]/g, '\\$&')}/missing\\.tar.*404`));
  });

  it('a server that ignores Range (200) is one clear IoError, not a download of the archive', async () => {
    counter.ignoreRanges = true;
    try {
      const err = await open(`${base}/big.tar`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IoError);
      expect((err as IoError).message).toMatch(/does not serve byte ranges/);
      const r = await portarcAsync(['extract', '-f', `${base}/big.tar`, '-C', join(dir, 'x200'), 'a']);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/does not serve byte ranges/);
    } finally {
      counter.ignoreRanges = false;
    }
    const missing = await open(`${base}/nothing.tar`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(IoError);
    expect((missing as IoError).message).toMatch(/HTTP 404/);
  });
});

/** A self-signed certificate for 127.0.0.1 (key and cert PEM), made by openssl for this run. */
function selfSigned(name: string): { key: string; cert: string; certFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

describe('open() over HTTPS: ranged reads from a local server with a self-signed certificate', () => {
  let server: Server;
  let base = '';
  let cert: ReturnType<typeof selfSigned>;
  const counter = { sent: 0, ignoreRanges: false };
  beforeAll(async () => {
    cert = selfSigned('server');
    server = createHttpsServer({ key: cert.key, cert: cert.cert }, rangeHandler(counter));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('trusted through the ca option: one file out of a 64 MiB tar, the server sends under 2x its size plus the manifest', async () => {
    counter.sent = 0;
    const a = await open(await httpSource(`${base}/big.tar`, { ca: cert.cert }));
    expect(a.info.method).toBe('manifest');
    expect(sha(await readAll(a.read('a/b/needle.bin')))).toBe(sha(needle));
    // Every byte the server sent was a read of the source, but for the size probe (bytes 0-0).
    expect(a.bytesRead).toBe(counter.sent - 1);
    await a.close();
    expect(counter.sent).toBeGreaterThan(needle.length);
    expect(counter.sent).toBeLessThan(2 * needle.length + tarTrailer(tar).manifestSize);
    for (const f of ['big.tar.zst', 'big.zip']) {
      counter.sent = 0;
      const b = await open(await httpSource(`${base}/${f}`, { ca: [cert.cert] }));
      expect(sha(await readAll(b.read('a/b/needle.bin')))).toBe(sha(needle));
      await b.close();
      expect(counter.sent).toBeGreaterThan(needle.length);
      expect(counter.sent).toBeLessThan(statSync(join(dir, f)).size / 4);
    }
  });

  it('the certificate is verified: untrusted (no ca, or another certificate as ca) is one IoError and no content is sent', async () => {
    counter.sent = 0;
    const plain = await open(`${base}/big.tar`).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(IoError);
    expect((plain as IoError).message).toMatch(/self[- ]signed certificate/i);
    const other = selfSigned('other');
    const wrong = await httpSource(`${base}/big.tar`, { ca: other.cert }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(IoError);
    expect((wrong as IoError).message).toMatch(/certificate/i);
    expect(counter.sent).toBe(0);
    await expect(httpSource(`http://127.0.0.1:1/big.tar`, { ca: cert.cert })).rejects.toThrow(/https URLs only/);
  });

  it('CLI: extract -f https://... trusts the certificate through NODE_EXTRA_CA_CERTS, and refuses it without', async () => {
    counter.sent = 0;
    const out = join(dir, 'https-out');
    const r = await portarcAsync(['extract', '-f', `${base}/big.tar.zst`, '-C', out, 'a/b/needle.bin'], { NODE_EXTRA_CA_CERTS: cert.certFile });
    expect(r.status, r.stderr).toBe(0);
    expect(sha(readFileSync(join(out, 'a/b/needle.bin')))).toBe(sha(needle));
    expect(counter.sent).toBeLessThan(statSync(zst).size / 4);
    const bad = await portarcAsync(['extract', '-f', `${base}/big.tar`, '-C', join(dir, 'https-bad'), 'a/b/needle.bin']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/certificate/i);
    expect(existsSync(join(dir, 'https-bad/a/b/needle.bin'))).toBe(false);
  });
});

describe('extract -f A PATH... and list -f A PATH... (CLI)', () => {
  for (const [kind, file] of [['tar', tar], ['tar.zst', zst], ['zip', zip], ['tar.gz', tgz]] as const) {
    it(`${kind}: a directory selects everything under it, a file itself; the rest is not extracted`, () => {
      const out = join(dir, `sel-${kind}`);
      const r = portarc(['extract', '-f', file, '-C', out, 'a/b', './z/fill3.bin']);
      expect(r.status, r.stderr).toBe(0);
      expect(sha(readFileSync(join(out, 'a/b/needle.bin')))).toBe(sha(needle));
      expect(readFileSync(join(out, 'a/b/other.txt'), 'utf8')).toBe('other\n');
      expect(readFileSync(join(out, 'z/fill3.bin')).equals(readFileSync(join(src, 'z/fill3.bin')))).toBe(true);
      expect(existsSync(join(out, 'a/fill0.bin'))).toBe(false);
      expect(existsSync(join(out, 'z/fill2.bin'))).toBe(false);
      expect(existsSync(join(out, 'z/link.bin'))).toBe(false);
      const l = portarc(['list', '-f', file, 'a/b']);
      expect(l.status, l.stderr).toBe(0);
      expect(l.stdout.split('\n').filter(Boolean).map((n) => n.replace(/^\.\//, '').replace(/\/$/, '')).sort()).toEqual(['a/b', 'a/b/needle.bin', 'a/b/other.txt']);
    });

    it(`${kind}: a hardlink whose target is not selected gets a copy of the target's content`, () => {
      const out = join(dir, `link-${kind}`);
      const r = portarc(['extract', '-f', file, '-C', out, 'z/link.bin']);
      expect(r.status, r.stderr).toBe(0);
      expect(sha(readFileSync(join(out, 'z/link.bin')))).toBe(sha(needle));
      expect(existsSync(join(out, 'a/b/needle.bin'))).toBe(false);
      // Both selected: a real hardlink again.
      const out2 = join(dir, `link2-${kind}`);
      expect(portarc(['extract', '-f', file, '-C', out2, 'a/b/needle.bin', 'z/link.bin']).status).toBe(0);
      expect(statSync(join(out2, 'z/link.bin')).ino).toBe(statSync(join(out2, 'a/b/needle.bin')).ino);
      // -O the same: the target's content at random; a .tar.gz is one pass, and says so (it printed nothing, exit 0).
      const o = spawnSync(process.execPath, [BIN, 'extract', '-O', '-f', file, 'z/link.bin'], { maxBuffer: 1 << 28 });
      if (file === tgz) {
        expect(o.status).toBe(2);
        expect(o.stderr.toString()).toMatch(/entry "\.\/z\/link\.bin": not extracted: hardlink to "\.\/a\/b\/needle\.bin", which was not selected/);
      } else {
        expect(o.status, o.stderr.toString()).toBe(0);
        expect(sha(o.stdout)).toBe(sha(needle));
      }
    });
  }

  it('a PATH that matches nothing is exit 2 "not found in archive", after the others are extracted', () => {
    const out = join(dir, 'nf');
    const r = portarc(['extract', '-f', tar, '-C', out, 'a/b/other.txt', 'no/such']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/"no\/such": not found in archive/);
    expect(readFileSync(join(out, 'a/b/other.txt'), 'utf8')).toBe('other\n');
    const l = portarc(['list', '-f', zst, 'nope']);
    expect(l.status).toBe(2);
    expect(l.stderr).toMatch(/"nope": not found in archive/);
    // "a/b/needle" is not a prefix of a/b/needle.bin's components.
    expect(portarc(['extract', '-f', tar, '-C', out, 'a/b/needle']).status).toBe(2);
  });

  it('-O of a hardlink whose target is not selected, from a stream: named, exit 2 (it printed nothing, exit 0)', () => {
    const r = spawnSync(process.execPath, [BIN, 'extract', '-O', '-f', '-', 'z/link.bin'], { input: readFileSync(tar), maxBuffer: 1 << 28 });
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(/entry "\.\/z\/link\.bin": not extracted: hardlink to "\.\/a\/b\/needle\.bin", which was not selected/);
  });

  it('stdin is one streaming pass; a hardlink whose target is not selected cannot be copied from it and fails loudly', () => {
    const input = readFileSync(tar);
    const out = join(dir, 'stdin');
    const r = portarc(['extract', '-f', '-', '-C', out, 'a/b/needle.bin'], { input });
    expect(r.status, r.stderr).toBe(0);
    expect(sha(readFileSync(join(out, 'a/b/needle.bin')))).toBe(sha(needle));
    const r2 = portarc(['extract', '-f', '-', '-C', join(dir, 'stdin2'), 'z/link.bin'], { input });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/link\.bin.*cannot be read twice/);
  });

  it('a damaged member selected by PATH is exit 2 naming it; the other selected members are restored', () => {
    const bad = join(dir, 'bad2.tar');
    const b = readFileSync(tar);
    b[b.indexOf(needle.subarray(0, 64)) + 5000] ^= 1;
    writeFileSync(bad, b);
    const out = join(dir, 'bad-out');
    const r = portarc(['extract', '-f', bad, '-C', out, 'a/b']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needle\.bin/);
    expect(r.stderr).toMatch(/SHA-256|damaged|does not match/);
    expect(existsSync(join(out, 'a/b/needle.bin'))).toBe(false);
  });

  it('a damaged member selected by PATH from a stream (.tar.gz, stdin) is exit 2 and kept as .damaged, never under its name', () => {
    // These are read in one pass, whose manifest comes last: open()'s streaming pass checked
    // nothing, and the damaged file was restored under its name with exit 0.
    const b = readFileSync(tar);
    b[b.indexOf(needle.subarray(0, 64)) + 5000] ^= 1;
    const gz = join(dir, 'bad3.tar.gz');
    writeFileSync(gz, gzipSync(b));
    for (const [label, args, input] of [['tar.gz', ['-f', gz], undefined], ['stdin', ['-f', '-'], b]] as const) {
      const out = join(dir, `bad-stream-${label}`);
      const r = portarc(['extract', ...args, '-C', out, 'a/b', 'z/link.bin'], { input });
      expect(r.status, `${label}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/a\/b\/needle\.bin.*content does not match the manifest.*kept as .*needle\.bin\.damaged/);
      expect(existsSync(join(out, 'a/b/needle.bin'))).toBe(false);
      expect(existsSync(join(out, 'a/b/needle.bin.damaged'))).toBe(true);
      expect(readFileSync(join(out, 'a/b/other.txt'), 'utf8')).toBe('other\n');
    }
    // With --manifest the manifest is restored whatever the PATHs pick, and the check reads it.
    const withManifest = join(dir, 'bad-stream-manifest');
    const m = portarc(['extract', '--manifest', '-f', gz, '-C', withManifest, 'a/b']);
    expect(m.status, m.stderr).toBe(2);
    expect(existsSync(join(withManifest, 'a/b/needle.bin.damaged'))).toBe(true);
    expect(existsSync(join(withManifest, '.portarc/manifest.xml'))).toBe(true);
    // --manifest with --strip-components: the check reads the manifest under the name it got
    // (it looked for .portarc/manifest.xml: "ends before its manifest member", nothing checked);
    // stripped away entirely, it says that instead.
    const stripped1 = join(dir, 'bad-stream-strip');
    const st = portarc(['extract', '--manifest', '--strip-components', '1', '-f', gz, '-C', stripped1]);
    expect(st.status, st.stderr).toBe(2);
    expect(existsSync(join(stripped1, 'a/b/needle.bin.damaged'))).toBe(true);
    const st2 = portarc(['extract', '--manifest', '--strip-components', '2', '-f', gz, '-C', join(dir, 'bad-stream-strip2')]);
    expect(st2.stderr).toContain('contents not checked against the manifest: its member was not restored (--strip-components or a filter left it out)');
    expect(st2.status).not.toBe(0);
    // A hardlink whose damaged target is not selected: its copy (a second pass) is checked too.
    const out = join(dir, 'bad-stream-link');
    const r = portarc(['extract', '-f', gz, '-C', out, 'z/link.bin']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/entry "\.\/z\/link\.bin".*content does not match the manifest.*kept as \.\/z\/link\.bin\.damaged/);
    expect(existsSync(join(out, 'z/link.bin'))).toBe(false);
  });

  it('-O and the callback API from a stream: a damaged file is exit 2 / ExtractDamagedError naming it, after its bytes went out', async () => {
    // Checked only when the manifest arrives: before, exit 0 with the damaged bytes on stdout.
    const b = readFileSync(tar);
    b[b.indexOf(needle.subarray(0, 64)) + 5000] ^= 1;
    const gz = join(dir, 'bad4.tar.gz');
    writeFileSync(gz, gzipSync(b));
    for (const [label, args, input] of [['tar.gz', ['-f', gz], undefined], ['stdin', ['-f', '-'], b]] as const) {
      const r = spawnSync(process.execPath, [BIN, 'extract', '-O', ...args, 'a/b/needle.bin'], { input, maxBuffer: 1 << 30 });
      expect(r.status, `${label}: ${r.stderr}`).toBe(2);
      expect(r.stderr.toString()).toMatch(/entry "\.\/a\/b\/needle\.bin".*content does not match the manifest/);
      expect(r.stdout.length).toBe(needle.length);
    }
    const good = spawnSync(process.execPath, [BIN, 'extract', '-O', '-f', tgz, 'a/b/needle.bin'], { maxBuffer: 1 << 30 });
    expect(good.status, good.stderr.toString()).toBe(0);
    expect(sha(good.stdout)).toBe(sha(needle));
    const seen: string[] = [];
    const err = await extract(gz, async (entry, body) => {
      seen.push(entry.name);
      body.resume();
    }, { paths: ['a/b'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtractDamagedError);
    expect((err as ExtractDamagedError).result.damaged.map((d) => d.path)).toEqual(['./a/b/needle.bin']);
    expect(seen).toContain('./a/b/needle.bin');
  });
});

describe('random access: what an audit found (2026-12-07)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('ra-audit');
  });
  const run = (cmd: string, cwd = dir) => spawnSync('bash', ['-euo', 'pipefail', '-c', cmd], { cwd, encoding: 'utf8' });

  it('open() in one streaming pass (no manifest, no seek table): the chunks read() gives stay the caller\'s', async () => {
    mkdirSync(join(dir, 'r'));
    writeFileSync(join(dir, 'r', 'a.txt'), 'hello\n');
    const big = randomBytes(8 * MiB);
    writeFileSync(join(dir, 'r', 'big'), big);
    expect(portarc(['create', '--no-manifest', '-f', join(dir, 'nm.tar'), '-C', join(dir, 'r'), 'a.txt', 'big']).status).toBe(0);
    expect(run('tar -cf gnu.tar -C r a.txt big && zstd -q gnu.tar -o gnu.tar.zst').status).toBe(0);
    for (const name of ['nm.tar', 'gnu.tar', 'gnu.tar.zst']) {
      const ra = await open(join(dir, name));
      try {
        expect(ra.info.method, name).toBe('stream');
        const kept: Buffer[] = [];
        for await (const c of ra.read('a.txt')) kept.push(c);
        const all: Buffer[] = [];
        for await (const c of ra.read('big')) all.push(c);
        expect(Buffer.concat(kept).toString(), name).toBe('hello\n');
        expect(Buffer.concat(all).equals(big), name).toBe(true);
      } finally {
        await ra.close();
      }
    }
  });

  it('PATH "." selects the archive\'s "./" tree, as GNU tar does (it selected nothing, exit 0)', () => {
    expect(run('mkdir -p s/sub && echo one > s/x && echo two > s/sub/y && tar -cf plain.tar -C s x sub').status).toBe(0);
    expect(portarc(['create', '-f', join(dir, 'dot.tar'), '-C', join(dir, 's'), '.']).status).toBe(0);
    const x = portarc(['extract', '-f', join(dir, 'dot.tar'), '-C', join(dir, 'o1'), '.']);
    expect([x.status, x.stderr]).toEqual([0, '']);
    expect(readFileSync(join(dir, 'o1', 'sub', 'y'), 'utf8')).toBe('two\n');
    expect(portarc(['extract', '-O', '-f', join(dir, 'dot.tar'), '.']).stdout).toBe('two\none\n');
    expect(portarc(['list', '-f', join(dir, 'dot.tar'), '.']).stdout).toBe('.\n./sub\n./sub/y\n./x\n');
    // An archive without a "./" tree has nothing under ".": not found, as GNU tar says.
    const p = portarc(['extract', '-f', join(dir, 'plain.tar'), '-C', join(dir, 'o2'), '.']);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain('not found in archive');
  });

  it('a server that stalls in the middle of an answer: an IoError after the timeout, or at once on the signal (it hung forever)', async () => {
    if (!existsSync(join(dir, 'dot.tar'))) {
      expect(run('mkdir -p s/sub && echo one > s/x && echo two > s/sub/y').status).toBe(0);
      expect(portarc(['create', '-f', join(dir, 'dot.tar'), '-C', join(dir, 's'), '.']).status).toBe(0);
    }
    const archive = readFileSync(join(dir, 'dot.tar'));
    let answers = 0;
    const server = createServer((req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')!;
      const a = Number(m[1]);
      const e = Math.min(Number(m[2]), archive.length - 1);
      res.writeHead(206, { 'content-range': `bytes ${a}-${e}/${archive.length}` });
      // The first answers whole, then half of each and nothing more.
      if (++answers > 2) res.write(archive.subarray(a, a + Math.floor((e - a + 1) / 2)));
      else res.end(archive.subarray(a, e + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dot.tar`;
    const drain = async (ra: Awaited<ReturnType<typeof open>>) => {
      for await (const c of ra.read('x')) void c;
    };
    try {
      const t0 = Date.now();
      const err = await open(await httpSource(url, { timeoutMs: 400 })).then(drain).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IoError);
      expect((err as Error).message).toMatch(/cannot fetch bytes \d+-\d+: no data from the server for 0.4 s/);
      expect(Date.now() - t0).toBeLessThan(5000);
      answers = 0;
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      const t1 = Date.now();
      const cancelled = await open(url, { signal: ac.signal }).then(drain).catch((e: unknown) => e);
      expect(cancelled).toBeInstanceOf(Error);
      expect(Date.now() - t1).toBeLessThan(5000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a hardlink gets the content of the member of its target\'s name before it, not of a later copy (tar -r)', async () => {
    expect(run('mkdir w && cd w && echo v1 > f && ln f hl && tar -cf ../dup.tar f hl && rm hl && echo version2 > f.new && mv f.new f && tar -rf ../dup.tar f').status).toBe(0);
    for (const name of ['dupm.tar', 'dupm.tar.zst']) {
      expect(portarc(['convert', join(dir, 'dup.tar'), join(dir, name)]).status).toBe(0);
      const out = join(dir, `sel-${name}`);
      expect(portarc(['extract', '-f', join(dir, name), '-C', out, 'hl']).status).toBe(0);
      expect(readFileSync(join(out, 'hl'), 'utf8'), name).toBe('v1\n');
      expect(portarc(['extract', '-O', '-f', join(dir, name), 'hl']).stdout, name).toBe('v1\n');
      const both = join(dir, `both-${name}`);
      expect(portarc(['extract', '-f', join(dir, name), '-C', both, 'hl', 'f']).status).toBe(0);
      expect([readFileSync(join(both, 'hl'), 'utf8'), readFileSync(join(both, 'f'), 'utf8')], name).toEqual(['v1\n', 'version2\n']);
      const ra = await open(join(dir, name));
      try {
        const parts: Buffer[] = [];
        for await (const c of ra.read('hl')) parts.push(Buffer.from(c));
        expect(Buffer.concat(parts).toString(), name).toBe('v1\n');
      } finally {
        await ra.close();
      }
    }
  });
});

describe('open() and info on the edge of nothing', () => {
  it('open() of a name that is not there rejects at once with an IoError (it resolved, calling the source "not seekable")', async () => {
    const err = await open(join(tempDir('ra-missing'), 'no-such.tar')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IoError);
    expect((err as IoError).message).toMatch(/no-such\.tar: cannot open the archive: no such file or directory \(ENOENT\)/);
  });

  it('info of a portarc archive with no entries (an incremental with nothing new) names its spec version and creator', () => {
    const dir = tempDir('ra-empty');
    writeFileSync(join(dir, 'f'), 'x');
    spawnSync('bash', ['-c', 'touch -d 2020-01-01 f && touch -d 2099-01-01 stamp'], { cwd: dir });
    expect(portarc(['create', '-f', join(dir, 'e.tar'), '--newer', join(dir, 'stamp'), '-C', dir, 'f']).status).toBe(0);
    const info = JSON.parse(portarc(['info', '--json', '-f', join(dir, 'e.tar')]).stdout);
    expect(info.entries).toBe(0);
    expect(info.creator).toMatch(/^portarc /);
    expect(info.specVersion).toBe('1.0');
  });
});
