#!/usr/bin/env node
// Runner of the portarc conformance suite: feeds every vector to an adapter on stdin and checks
// its exit code and canonical JSON against the vector's expected JSON. Plain Node, no dependencies.
// Usage: node conformance/run.mjs [--adapter "CMD ARGS"] [--filter SUBSTRING] [--timeout SECONDS] [-v]
// (-v: show the adapter's stderr under each failure)
// Protocol and comparison rules: conformance/README.md.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** The archive files of the suite: a tar, optionally gzip- or zstd-compressed, or a zip. */
const ARCHIVE = /\.(tar(\.gz|\.zst)?|zip)$/;
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const VECTORS = join(HERE, 'vectors');

function usage(msg) {
  if (msg) process.stderr.write(`run.mjs: ${msg}\n`);
  process.stderr.write('usage: node conformance/run.mjs [--adapter "CMD ARGS"] [--filter SUBSTRING] [--timeout SECONDS] [--verbose]\n');
  process.exit(2);
}

const opts = { adapter: `"${process.execPath}" "${join(HERE, 'adapters', 'portarc.mjs')}"`, filter: [], timeout: 10, verbose: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--adapter') opts.adapter = value();
  else if (a.startsWith('--adapter=')) opts.adapter = a.slice(10);
  else if (a === '--filter') opts.filter.push(value());
  else if (a.startsWith('--filter=')) opts.filter.push(a.slice(9));
  else if (a === '--timeout') opts.timeout = Number(value());
  else if (a === '-v' || a === '--verbose') opts.verbose = true;
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument ${a}`);
}
if (!(opts.timeout > 0)) usage('--timeout must be a positive number of seconds');

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

/** Run the adapter with the archive on stdin; resolves { code, signal, stdout, stderr, timedOut }. */
function runAdapter(archive) {
  return new Promise((resolve) => {
    const child = spawn(opts.adapter, { shell: true, detached: process.platform !== 'win32', stdio: ['pipe', 'pipe', 'pipe'] });
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
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    child.stdin.end(readFileSync(archive));
  });
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

/** The canonical entry keys. Others an adapter prints (atimeNs, ctimeNs, ...) are not compared. */
const CANONICAL = ['path', 'pathBase64', 'type', 'size', 'mode', 'uid', 'gid', 'uname', 'gname', 'mtimeNs', 'linkTarget', 'linkTargetBase64', 'devMajor', 'devMinor', 'xattrs', 'selinux', 'aclAccess', 'aclDefault', 'sha256'];

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
      return `${key}: expected ${show(exp[key])}, got ${show(act[key])}`;
    }
  }
  for (const key of Object.keys(exp)) {
    if (!CANONICAL.includes(key)) return `expected entry has unknown key ${key} (fix the vector)`;
  }
  return undefined;
}

const sortedFeatures = (f) => (isObject(f) ? Object.fromEntries(['compat', 'rocompat', 'incompat'].map((c) => [c, Array.isArray(f[c]) ? [...f[c]].sort() : f[c]])) : f);

let lastStderr = '';

/** Check one vector; returns undefined on success or the reason for failure. */
async function check(tar, verdict, expected) {
  const r = await runAdapter(tar);
  lastStderr = r.stderr;
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

let passed = 0;
let failed = 0;
const vectors = existsSync(VECTORS) ? findVectors(VECTORS) : [];
for (const tar of vectors) {
  const name = relative(VECTORS, tar).replace(ARCHIVE, '');
  if (opts.filter.length && !opts.filter.some((f) => name.includes(f))) continue;
  const verdict = /^([yni])_/.exec(basename(tar))?.[1];
  let reason;
  lastStderr = '';
  const jsonPath = tar.replace(ARCHIVE, '.json');
  if (!verdict) reason = 'file name must start with y_, n_ or i_';
  else if (!existsSync(jsonPath)) reason = `no expected ${basename(jsonPath)}`;
  else {
    let expected;
    try {
      expected = JSON.parse(readFileSync(jsonPath, 'utf8'));
    } catch (err) {
      reason = `expected JSON unreadable: ${err.message}`;
    }
    reason ??= validateExpected(verdict, expected);
    reason ??= await check(tar, verdict, expected);
  }
  if (reason === undefined) {
    passed++;
    console.log(`PASS ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${reason}`);
    if (opts.verbose && lastStderr.trim()) console.log(lastStderr.trimEnd().replace(/^/gm, '    | '));
  }
}
if (passed + failed === 0) console.log(`no vectors matched${opts.filter.length ? ` --filter ${opts.filter.join(', ')}` : ''}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed || passed === 0 ? 1 : 0;
