#!/usr/bin/env node
// Runner of the portarc conformance suite (conformance/README.md). Plain Node ≥ 20, no dependencies.
//  - Reader suite (default): feeds every vector to a reader adapter on stdin and checks its exit
//    code and canonical JSON against the vector's expected JSON.
//  - Writer suite (--writer CMD): hands a writer adapter each tree description of writer/ on stdin,
//    reads the archive it prints with the reference reader, GNU tar and bsdtar (where installed),
//    and checks its bytes against the writer rules of spec/portarc-1.md §4.1, §4.5, §4.7, §5.1.
// Usage: node conformance/run.mjs [--adapter "CMD" | --writer "CMD"] [--run PATTERN] [--skip PATTERN]
//   [--containers tar,gz,zst,zip] [--spec-version X.Y] [--known-failures FILE] [--report OUT.json]
//   [--timeout SECONDS] [--jobs N] [-v]

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decompress, headers, percentDecode } from './lib/tar.mjs';
import { CANONICAL, expectedEntry } from './lib/tree.mjs';

/** The archive files of the suite: a tar, optionally gzip- or zstd-compressed, or a zip. */
const ARCHIVE = /\.(tar(\.gz|\.zst)?|zip)$/;
const HERE = dirname(fileURLToPath(import.meta.url));
const VECTORS = join(HERE, 'vectors');
const TREES = join(HERE, 'writer');
const REFERENCE = `"${process.execPath}" "${join(HERE, 'adapters', 'portarc.mjs')}"`;
/** The spec version a vector belongs to when its JSON says nothing (`"spec": "X.Y"`). */
const DEFAULT_SPEC = '1.0';

function usage(msg) {
  if (msg) process.stderr.write(`run.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node conformance/run.mjs [--adapter "CMD" | --writer "CMD"] [--run PATTERN]... [--skip PATTERN]...\n' +
      '         [--containers tar,gz,zst,zip] [--spec-version X.Y] [--known-failures FILE] [--report OUT.json] [--timeout SECONDS] [--jobs N] [-v]\n',
  );
  process.exit(2);
}

const opts = { jobs: 1, adapter: REFERENCE, writer: undefined, run: [], skip: [], spec: undefined, known: undefined, report: undefined, timeout: 10, verbose: false, containers: undefined };
/** The containers a case's archive may be, by its suffix (--containers). */
const CONTAINERS = ['tar', 'gz', 'zst', 'zip'];
const containerOf = (file) => (file.endsWith('.tar.gz') ? 'gz' : file.endsWith('.tar.zst') ? 'zst' : file.endsWith('.zip') ? 'zip' : 'tar');
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  let a = argv[i];
  let inline;
  if (/^--[a-z-]+=/.test(a)) [a, inline] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
  const value = () => inline ?? (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--adapter') opts.adapter = value();
  else if (a === '--writer') opts.writer = value();
  else if (a === '--run' || a === '--filter') opts.run.push(value());
  else if (a === '--skip') opts.skip.push(value());
  else if (a === '--containers') opts.containers = value().split(',').map((x) => x.trim()).filter(Boolean);
  else if (a === '--spec-version') opts.spec = value();
  else if (a === '--known-failures') opts.known = value();
  else if (a === '--report') opts.report = value();
  else if (a === '--timeout') opts.timeout = Number(value());
  else if (a === '--jobs' || a === '-j') opts.jobs = Number(value());
  else if (a === '-v' || a === '--verbose') opts.verbose = true;
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument ${a}`);
}
if (!(opts.timeout > 0)) usage('--timeout must be a positive number of seconds');
if (!Number.isInteger(opts.jobs) || opts.jobs < 1) usage('--jobs must be a positive integer');
if (opts.spec !== undefined && !/^\d+\.\d+$/.test(opts.spec)) usage('--spec-version must be MAJOR.MINOR, e.g. 1.0');
if (opts.containers && (!opts.containers.length || opts.containers.some((c) => !CONTAINERS.includes(c)))) usage(`--containers takes a list of ${CONTAINERS.join(', ')}`);

/** A pattern with `*` is a glob over the whole case name; without, a substring. */
function matcher(pattern) {
  if (!pattern.includes('*')) return (name) => name.includes(pattern);
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return (name) => re.test(name);
}
const runMatchers = opts.run.map(matcher);
const skipMatchers = opts.skip.map(matcher);

/** Known failures: one case name a line, `#` comments. */
const known = new Map();
if (opts.known) {
  let text;
  try {
    text = readFileSync(opts.known, 'utf8');
  } catch (err) {
    usage(`cannot read --known-failures ${opts.known}: ${err.message}`);
  }
  for (const line of text.split('\n')) {
    const name = line.replace(/#.*/, '').trim();
    if (name) known.set(name, false);
  }
}

const specLater = (a, b) => {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am > bm || (am === bm && an > bn);
};


/** Run `cmd` through the shell with `input` on stdin; resolves { code, signal, stdout (Buffer), stderr, timedOut }. */
function runCommand(cmd, input) {
  return new Promise((resolve) => {
    const child = spawn(cmd, { shell: true, detached: process.platform !== 'win32', stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL'); // the shell and the adapter it started
      } catch {
        child.kill('SIGKILL');
      }
    }, opts.timeout * 1000);
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    // An adapter may refuse before reading all of stdin: a broken pipe is not the runner's error.
    child.stdin.on('error', () => {});
    child.on('error', (e) => err.push(Buffer.from(String(e))));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    child.stdin.end(input);
  });
}

/** Run the reader adapter with the archive on stdin; stdout as text. */
async function runAdapter(archive, cmd = opts.adapter) {
  const r = await runCommand(cmd, Buffer.isBuffer(archive) ? archive : readFileSync(archive));
  return { ...r, stdout: r.stdout.toString('utf8') };
}
/** Every vectors/**\/NAME.tar (also .tar.gz, .tar.zst, .zip), sorted by path. */
function findVectors(dir) {
  const out = [];
  for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...findVectors(p));
    else if (ARCHIVE.test(d.name)) out.push(p);
  }
  return out;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Deep equality for JSON values; object key order does not matter, array order does. */
function jsonEqual(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return jsonEqual(ka, kb) && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return a === b;
}

const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? '(absent)' : s.length > 120 ? s.slice(0, 117) + '...' : s;
};


/** First difference between an expected and an actual entry, or undefined. */
function entryDiff(exp, act) {
  for (const key of CANONICAL) {
    // Where the bytes are not UTF-8, the base64 form is the value; the text form is for people.
    if (key === 'path' && 'pathBase64' in exp) continue;
    if (key === 'linkTarget' && 'linkTargetBase64' in exp) continue;
    const inExp = key in exp;
    const inAct = key in act;
    if (!inExp && !inAct) continue;
    if (inExp !== inAct || !jsonEqual(exp[key], act[key])) {
      if (key === 'xattrs' && isObject(exp[key]) && isObject(act[key])) {
        for (const name of [...new Set([...Object.keys(exp.xattrs), ...Object.keys(act.xattrs)])].sort()) {
          if (exp.xattrs[name] !== act.xattrs[name]) return `xattrs[${JSON.stringify(name)}]: expected ${show(exp.xattrs[name])}, got ${show(act.xattrs[name])}`;
        }
      }
      // A number where a string is expected (a 64-bit value) was rounded by JSON.parse: say so, not the rounded value.
      if (inExp && inAct && typeof exp[key] !== typeof act[key]) return `${key}: expected a ${typeof exp[key]} (${show(exp[key])}), got a ${typeof act[key]}${typeof act[key] === 'number' && typeof exp[key] === 'string' ? ' (64-bit values are printed as strings: a JSON number loses digits past 2^53)' : ` (${show(act[key])})`}`;
      return `${key}: expected ${show(exp[key])}, got ${show(act[key])}`;
    }
  }
  for (const key of Object.keys(exp)) {
    if (!CANONICAL.includes(key)) return `expected entry has unknown key ${key} (fix the vector)`;
  }
  return undefined;
}

const sortedFeatures = (f) => (isObject(f) ? Object.fromEntries(['compat', 'rocompat', 'incompat'].map((c) => [c, Array.isArray(f[c]) ? [...f[c]].sort() : f[c]])) : f);


/** Check one vector; returns undefined on success or the reason for failure. */
async function check(tar, verdict, expected, ctx = {}) {
  const r = await runAdapter(tar);
  ctx.stderr = r.stderr;
  if (r.timedOut) return `timeout: no answer within ${opts.timeout} s`;
  const tail = r.stderr.trim().split('\n').slice(-1)[0] ?? '';
  if (r.code === null) return `adapter killed by ${r.signal}`;
  if (![0, 1, 2].includes(r.code)) return `adapter crashed (exit ${r.code})${tail ? `: ${tail}` : ''}`;
  if (verdict === 'n') return r.code === 2 ? undefined : `must be refused with exit 2, got exit ${r.code}`;
  if (r.code === 2) {
    if (verdict === 'i') return undefined;
    return `refused (exit 2) but must be read${tail ? `: ${tail}` : ''}`;
  }
  let doc;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    return `exit ${r.code} but stdout is not one JSON document`;
  }
  if (!isObject(doc) || !Array.isArray(doc.entries) || !Array.isArray(doc.warnings)) return 'output lacks the "entries" or "warnings" array';
  if ('notices' in doc && !Array.isArray(doc.notices)) return '"notices" must be an array';
  const notices = doc.notices ?? [];
  if ((doc.warnings.length > 0) !== (r.code === 1)) return `exit ${r.code} does not agree with ${doc.warnings.length} warnings printed`;
  if (verdict === 'i') return undefined;

  if (r.code !== expected.exit) return `exit: expected ${expected.exit}, got ${r.code} (warnings: ${show(doc.warnings)}, notices: ${show(notices)})`;
  if (doc.warnings.length !== expected.warnings) return `warnings: expected ${expected.warnings}, got ${doc.warnings.length}: ${show(doc.warnings)}`;
  if (notices.length !== (expected.notices ?? 0)) return `notices: expected ${expected.notices ?? 0}, got ${notices.length}: ${show(notices)}`;
  const res = expected.result;
  if (!jsonEqual(res.version, doc.version)) return `version: expected ${show(res.version)}, got ${show(doc.version)}`;
  if (!jsonEqual(sortedFeatures(res.features), sortedFeatures(doc.features))) return `features: expected ${show(res.features)}, got ${show(doc.features)}`;
  const n = Math.max(res.entries.length, doc.entries.length);
  for (let i = 0; i < n; i++) {
    const exp = res.entries[i];
    const act = doc.entries[i];
    if (!exp) return `entries: expected ${res.entries.length}, got ${doc.entries.length} (extra: ${show(act.path)})`;
    if (!isObject(act)) return `entries: expected ${res.entries.length}, got ${doc.entries.length} (missing: ${show(exp.path)})`;
    const d = entryDiff(exp, act);
    if (d) return `entry ${i} ${show(exp.path)}: ${d}`;
  }
  return undefined;
}

/** Validate an expected JSON against its verdict prefix; returns the problem or undefined. */
function validateExpected(verdict, e) {
  if (!isObject(e) || typeof e.description !== 'string') return 'expected JSON needs a "description"';
  if (verdict === 'n') return e.exit === 2 ? undefined : 'an n_ vector must expect exit 2';
  if (verdict === 'i') return undefined;
  if (e.exit !== 0 && e.exit !== 1) return 'a y_ vector must expect exit 0 or 1';
  if (!Number.isInteger(e.warnings) || (e.warnings > 0) !== (e.exit === 1)) return '"warnings" must be a count that agrees with "exit"';
  if ('notices' in e && !Number.isInteger(e.notices)) return '"notices" must be a count';
  if (!isObject(e.result) || !Array.isArray(e.result.entries) || !('version' in e.result) || !isObject(e.result.features)) return '"result" needs version, features and entries';
  return undefined;
}


// ---- Writer suite -------------------------------------------------------------------------------

/** The keywords §5.1.1 lets a writer put in an `x` header (the xattr ones by prefix). */
const X_KEYWORDS = new Set(['GNU.sparse.major', 'GNU.sparse.minor', 'GNU.sparse.name', 'GNU.sparse.realsize', 'path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'SCHILY.devmajor', 'SCHILY.devminor', 'mtime', 'atime', 'ctime', 'RHT.security.selinux', 'SCHILY.acl.access', 'SCHILY.acl.default']);
const schilyName = (s) => s.replace(/%3D/gi, '=').replace(/%25/g, '%');
const libarchiveName = percentDecode;

/** The first writer rule the bytes of a tar break (spec §4.1.5, §4.5, §4.7, §5.1), or undefined. */
function writerRules(tar) {
  const list = headers(tar);
  const at = (m) => `header at byte ${m.offset}`;
  const g = list[0];
  if (!g || g.type !== 'g') return `§4.5: the archive must begin with a global (g) header, found ${g ? `typeflag '${g.type}'` : 'no header'}`;
  if (g.records[0]?.[0] !== 'PORTARC.version' || !/^\d+\.\d+$/.test(g.records[0][1].toString())) return '§4.5: the global header must start with PORTARC.version=MAJOR.MINOR';
  const foreign = g.records.find(([k]) => !k.startsWith('PORTARC.'));
  if (foreign) return `§4.5: the global header holds ${foreign[0]}, outside the PORTARC. namespace`;
  const empty = g.records.find(([, v]) => v.length === 0);
  if (empty) return `§4.5: empty ${empty[0]} in the global header`;
  const keys = g.records.map(([k]) => k);
  const twice = keys.find((k, i) => keys.indexOf(k) !== i);
  if (twice) return `§4.5: ${twice} twice in the global header`;
  const unknown = keys.find((k) => !/^PORTARC\.(version|creator|features\.(compat|rocompat|incompat))$/.test(k));
  if (unknown) return `§4.5: the global header holds ${unknown}, not a record of this spec version`;
  const badList = g.records.find(([k, v]) => k.startsWith('PORTARC.features.') && !/^[^,\s]+(,[^,\s]+)*$/.test(v.toString()));
  if (badList) return `§4.5: ${badList[0]}=${JSON.stringify(badList[1].toString())} is not a comma-separated list of names without spaces`;
  for (const m of list) {
    if (!m.checksumOk) return `§4.1.5: bad checksum in the ${at(m)}`;
    if (m !== g && m.type === 'g' && m.records.some(([k]) => k.startsWith('PORTARC.'))) return `§4.5: a second portarc global header at byte ${m.offset}`;
    if (m.type !== 'x') continue;
    const keys = m.records.map(([k]) => k);
    const bad = keys.find((k) => !X_KEYWORDS.has(k) && !k.startsWith('SCHILY.xattr.') && !k.startsWith('LIBARCHIVE.xattr.'));
    if (bad) return `§5.1.2: keyword ${bad} in the x ${at(m)} is not one a writer may write`;
    const kept = keys.find((k) => /^(SCHILY|LIBARCHIVE)\.xattr\.(security\.selinux|system\.posix_acl_(access|default))$/.test(k));
    if (kept) return `§5.1.2: ${kept} in the x ${at(m)}: the label and ACLs have their own keywords`;
    const located = keys.some((k) => k === 'path' || k === 'linkpath' || k === 'size');
    const nul = m.records.find(([k, v]) => v.includes(0) && k.startsWith('SCHILY.xattr.'));
    if (located && nul) return `§5.1.3 NUL rule: ${nul[0]} holds a NUL byte in an x header with a path, linkpath or size record (${at(m)}): write LIBARCHIVE.xattr base64`;
    const schily = new Set(keys.filter((k) => k.startsWith('SCHILY.xattr.')).map((k) => schilyName(k.slice(13))));
    const twin = keys.find((k) => k.startsWith('LIBARCHIVE.xattr.') && schily.has(libarchiveName(k.slice(17))));
    if (twin) return `§5.1.3: both forms of one xattr (${twin}) in the x ${at(m)}`;
  }
  const last = list[list.length - 1];
  const end = last.offset + 512 + Math.ceil(last.size / 512) * 512;
  if (tar.length < end + 1024 || !tar.subarray(end, end + 1024).every((b) => b === 0)) return `§4.7: the archive must end with two zero blocks after byte ${end}`;
  if (tar.length % 10240 !== 0) return `§4.7: the archive is ${tar.length} bytes, not a multiple of 10240`;
  return undefined;
}

const which = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const GNU_TAR = which('tar') && /GNU tar/.test(spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout ?? '');
const BSDTAR = which('bsdtar');

/** Members another tool lists, without portarc's manifest and trailer (spec/manifest.md). */
function otherTool(cmd, args, file) {
  const r = spawnSync(cmd, [...args, file], { encoding: 'latin1', maxBuffer: 1 << 26, timeout: opts.timeout * 1000 });
  if (r.status !== 0) return { error: `${cmd} ${args.join(' ')} exits ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-1)[0]}` };
  return { count: r.stdout.split('\n').filter((l) => l && !l.startsWith('.portarc/')).length };
}

/** Check one writer case; returns undefined on success or the reason for failure. */
async function checkWriter(treeFile, ctx = {}) {
  const tree = JSON.parse(readFileSync(treeFile, 'utf8'));
  if (!Array.isArray(tree.entries)) return 'tree description lacks "entries" (fix the case)';
  const w = await runCommand(opts.writer, Buffer.from(JSON.stringify(tree)));
  ctx.stderr = w.stderr;
  if (w.timedOut) return `timeout: the writer gave no archive within ${opts.timeout} s`;
  if (w.code !== 0) return `writer exits ${w.code ?? w.signal}${w.stderr.trim() ? `: ${w.stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
  if (w.stdout.length === 0) return 'writer printed no archive';
  const format = tree.format ?? 'tar';
  const dir = mkdtempSync(join(tmpdir(), 'portarc-conf-'));
  const file = join(dir, `out.${format}`);
  try {
    writeFileSync(file, w.stdout);
    // 1. The writer rules, on the tar bytes.
    if (format !== 'zip') {
      let tar;
      try {
        tar = decompress(w.stdout);
      } catch (err) {
        return `cannot decompress the ${format} output: ${err.message}`;
      }
      const broken = writerRules(tar);
      if (broken) return `writer rule ${broken}`;
    }
    // 2. The reference reader must read back exactly the tree.
    const expected = { description: tree.description ?? '', exit: 0, warnings: 0, notices: 0, result: { entries: tree.entries.map(expectedEntry) } };
    const r = await runAdapter(w.stdout, REFERENCE);
    if (r.code !== 0) return `reference reader: exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}`;
    const doc = JSON.parse(r.stdout);
    if (doc.warnings.length || (doc.notices ?? []).length) return `reference reader: warnings ${show(doc.warnings)}, notices ${show(doc.notices)}`;
    if (typeof doc.version !== 'string' || !/^1\.\d+$/.test(doc.version)) return `reference reader: version ${show(doc.version)}, expected 1.x (§4.5)`;
    // The manifest's own members (spec/manifest.md §2) are the writer's, not the tree's.
    const manifest = doc.features?.compat?.includes('manifest');
    const entries = doc.entries.filter((e) => !(manifest && /^\.portarc\/(manifest\.xml|trailer)$/.test(e.path)));
    if (manifest && entries.length !== doc.entries.length - (format === 'zip' ? 1 : 2)) return 'reference reader: the manifest feature is declared but its members are missing';
    const n = Math.max(expected.result.entries.length, entries.length);
    for (let i = 0; i < n; i++) {
      const exp = expected.result.entries[i];
      const act = entries[i];
      if (!exp || !act) return `reference reader: ${entries.length} entries, the tree has ${expected.result.entries.length}`;
      const d = entryDiff(exp, act);
      if (d) return `reference reader: entry ${i} ${show(exp.path)}: ${d}`;
    }
    // 3. Other readers must list every member (they may lose metadata, not entries).
    const tools = [];
    if (GNU_TAR && format !== 'zip') tools.push(['tar', ['-tf']]);
    if (BSDTAR) tools.push(['bsdtar', ['-tf']]);
    for (const [cmd, args] of tools) {
      const t = otherTool(cmd, args, file);
      if (t.error) return t.error;
      if (t.count !== tree.entries.length) return `${cmd} lists ${t.count} members, the tree has ${tree.entries.length}`;
    }
    return undefined;
  } catch (err) {
    return `reference reader output unreadable: ${err.message}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Main ---------------------------------------------------------------------------------------

/** Every writer/NAME.json, sorted. */
const findTrees = () => (existsSync(TREES) ? readdirSync(TREES).filter((n) => n.endsWith('.json')).sort().map((n) => join(TREES, n)) : []);

const cases = opts.writer
  ? findTrees().map((file) => ({ kind: 'writer', name: `writer/${basename(file, '.json')}`, file }))
  : (existsSync(VECTORS) ? findVectors(VECTORS) : []).map((file) => ({ kind: 'reader', name: relative(VECTORS, file).replace(ARCHIVE, ''), file }));

let passed = 0;
let failed = 0;
let skipped = 0;
const report = [];
const record = (c, status, reason, ms) => {
  report.push({ name: c.name, kind: c.kind, status, ...(reason ? { reason } : {}), ...(ms !== undefined ? { ms } : {}) });
  console.log(`${status.toUpperCase()} ${c.name}${reason ? `: ${reason}` : ''}`);
};

/** Run one case: { status, reason, ms, stderr }. */
async function runCase(c) {
  if (skipMatchers.some((m) => m(c.name))) return { status: 'skip', reason: '--skip' };
  // A reader that does not read this container (a tar reader and zip, say): skipped, never a vacuous pass of an n_ case.
  if (c.kind !== 'writer' && opts.containers && !opts.containers.includes(containerOf(c.file))) return { status: 'skip', reason: `${containerOf(c.file)} not in --containers` };
  const ctx = {};
  const t0 = Date.now();
  let reason;
  if (c.kind === 'writer') {
    try {
      reason = await checkWriter(c.file, ctx);
    } catch (err) {
      reason = `tree description unreadable: ${err.message}`;
    }
  } else {
    const verdict = /^([yni])_/.exec(basename(c.file))?.[1];
    const jsonPath = c.file.replace(ARCHIVE, '.json');
    let expected;
    if (!verdict) reason = 'file name must start with y_, n_ or i_';
    else if (!existsSync(jsonPath)) reason = `no expected ${basename(jsonPath)}`;
    else {
      try {
        expected = JSON.parse(readFileSync(jsonPath, 'utf8'));
      } catch (err) {
        reason = `expected JSON unreadable: ${err.message}`;
      }
      reason ??= validateExpected(verdict, expected);
      const spec = expected?.spec ?? DEFAULT_SPEC;
      if (reason === undefined && opts.spec && specLater(spec, opts.spec)) return { status: 'skip', reason: `spec ${spec} > --spec-version ${opts.spec}` };
      reason ??= await check(c.file, verdict, expected, ctx);
    }
  }
  const ms = Date.now() - t0;
  if (known.has(c.name)) {
    return reason === undefined ? { status: 'fail', reason: `listed in ${basename(opts.known)} but passes: take it off the list`, ms } : { status: 'xfail', reason, ms };
  }
  return { status: reason === undefined ? 'pass' : 'fail', reason, ms, stderr: ctx.stderr };
}

// --jobs cases at a time; results are printed in case order as soon as they are known.
const selected = cases.filter((c) => !runMatchers.length || runMatchers.some((m) => m(c.name)));
const results = new Array(selected.length);
let printed = 0;
let next = 0;
const flush = () => {
  for (; printed < selected.length && results[printed]; printed++) {
    const c = selected[printed];
    const r = results[printed];
    if (r.status === 'pass') passed++;
    else if (r.status === 'fail') failed++;
    else skipped++;
    record(c, r.status, r.reason, r.ms);
    if (r.status === 'fail' && opts.verbose && r.stderr?.trim()) console.log(r.stderr.trimEnd().replace(/^/gm, '    | '));
  }
};
await Promise.all(
  Array.from({ length: Math.min(opts.jobs, selected.length) }, async () => {
    while (next < selected.length) {
      const i = next++;
      results[i] = await runCase(selected[i]);
      flush();
    }
  }),
);
// A listed case that no longer exists makes the list untrue too, whatever --run selected.
const names = new Set(cases.map((c) => c.name));
for (const [name] of known) {
  if (!names.has(name)) {
    failed++;
    record({ name, kind: opts.writer ? 'writer' : 'reader' }, 'fail', `listed in ${basename(opts.known)} but there is no such case`);
  }
}
if (passed + failed + skipped === 0) console.log(`no cases matched${opts.run.length ? ` --run ${opts.run.join(', ')}` : ''}`);
if (opts.report) {
  const doc = { suite: opts.writer ? 'writer' : 'reader', adapter: opts.writer ?? opts.adapter, specVersion: opts.spec ?? null, knownFailures: opts.known ?? null, passed, failed, skipped, cases: report };
  writeFileSync(opts.report, JSON.stringify(doc, null, 1) + '\n');
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed || passed + skipped === 0 ? 1 : 0;
