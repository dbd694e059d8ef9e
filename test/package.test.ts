// The package as users get it (issue #12): `npm pack`, install the tarball into an empty folder on
// a machine without make or a C/C++ compiler (PATH holds only sh, node, npm, npx and python3),
// then: the install says one line about the addon and no `gyp ERR!`; `npx portarc create` and
// `extract` work through the getfattr/setfattr fallback; `require('portarc')` from CommonJS on
// Node 20 and 24; every source map points at a file that is in the package; LICENSE is there;
// `man ./man/portarc.1` renders the page the package ships.
// Needs the npm registry (or npm's cache: `npm ci` fills it) for the dependencies.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { asIfNative } from './helpers/cli.js';
import { sh, snapshot, tempDir } from './helpers/tree.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE24 = '/tmp/n24/node_modules/node/bin/node';

function which(cmd: string): string {
  return execFileSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
}

/** Every file under `dir` whose name ends with `suffix`. */
function walk(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, suffix));
    else if (e.name.endsWith(suffix)) out.push(p);
  }
  return out;
}

describe('npm pack, install without a compiler, use', () => {
  const dir = tempDir('pack');
  const bin = join(dir, 'bin');
  const app = join(dir, 'app');
  const pkg = join(app, 'node_modules', 'portarc');
  let installLog = '';

  it('packs and installs quietly: one line about the native addon, no gyp ERR!, exit 0', () => {
    // dist/ is current: npm test compiles before it runs the tests.
    const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
    const tarball = join(dir, (JSON.parse(packed) as Array<{ filename: string }>)[0]!.filename);
    mkdirSync(bin);
    mkdirSync(app);
    // A machine without make, cc or g++: only what npm needs to run an install script.
    const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
    for (const [name, target] of [['sh', which('sh')], ['node', process.execPath], ['npm', which('npm')], ['npx', which('npx')], ['python3', python]] as const) symlinkSync(target, join(bin, name));
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }\n');
    const r = spawnSync('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'], {
      cwd: app,
      encoding: 'utf8',
      env: { HOME: process.env.HOME, PATH: bin, npm_config_cache: process.env.npm_config_cache },
    });
    installLog = `${r.stdout}${r.stderr}`;
    expect(r.status, installLog).toBe(0);
    // portarc's own install script: from its "> portarc@… install" header to the next script's.
    const ours = /> portarc@[^\n]* install\n> node scripts\/build-native\.mjs\n([\s\S]*?)(?=\n> |\nadded |$)/.exec(installLog);
    expect(ours, installLog).not.toBeNull();
    const lines = ours![1]!.split('\n').filter((l) => l.trim());
    expect(lines).toEqual(['portarc: native addon not built (no make, a C compiler (cc), a C++ compiler (g++)): portarc uses the getfattr/setfattr fallback']);
    expect(ours![1]).not.toContain('gyp ERR!');
    expect(existsSync(join(pkg, 'build', 'Release', 'portarc_sys.node'))).toBe(false);
  });

  it('npx portarc create / extract work through the fallback, metadata included', () => {
    sh(`mkdir -p data/d && printf 'packed\\n' > data/d/f && setfattr -n user.k -v v data/d/f && ln -s f data/d/l && chmod 640 data/d/f
        touch -h -d @1600000000.123456 data/d/l data/d/f data/d data`, app); // µs: what the fallback's utimes keeps
    const npx = (args: string[]) => execFileSync('npx', ['--no', '--', 'portarc', ...args], { cwd: app, encoding: 'utf8' });
    expect(npx(['--version'])).toContain('system calls: fallback');
    for (const name of ['a.tar.gz', 'a.zip']) {
      npx(['create', '-f', name, 'data']);
      // Atimes with nanoseconds (a zip records them): the fallback's one warning, exit 1 (spec §9.1).
      const x = spawnSync('npx', ['--no', '--', 'portarc', 'extract', '-f', name, '-C', `out-${name}`], { cwd: app, encoding: 'utf8' });
      expect(asIfNative({ status: x.status ?? -1, stdout: x.stdout, stderr: x.stderr }, true), name).toMatchObject({ status: 0, stderr: '' });
      // To the microsecond (spec §9.1): Node ≥ 22's lutimes passes a double's sub-µs noise through.
      const us = { mtimeGrain: 1000n };
      expect(snapshot(join(app, `out-${name}`, 'data'), us)).toEqual(snapshot(join(app, 'data'), us));
    }
  });

  it("require('portarc') from CommonJS (Node 20, and Node 24 when present) is the same module as import", () => {
    const script = `
      const p = require('portarc');
      const { create, list, PortarcError } = p;
      (async () => {
        await create([{ entry: p.makeEntry({ path: 'hello.txt', type: 'file', size: 2 }), body: Buffer.from('hi') }], 'cjs.tar');
        const names = [];
        for await (const e of list('cjs.tar')) names.push(e.name);
        const esm = await import('portarc');
        console.log(JSON.stringify({ names, same: esm.PortarcError === PortarcError, create: typeof create }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    writeFileSync(join(app, 'use.cjs'), script);
    const nodes = [process.execPath, ...(existsSync(NODE24) ? [NODE24] : [])];
    for (const node of nodes) {
      const r = spawnSync(node, ['use.cjs'], { cwd: app, encoding: 'utf8' });
      expect(r.status, `${node}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout), node).toEqual({ names: ['hello.txt'], same: true, create: 'function' });
      expect(r.stderr, node).toBe(''); // no ExperimentalWarning
    }
  });

  it('source maps point only at shipped files; LICENSE; the man page is shipped and renders', () => {
    const maps = walk(join(pkg, 'dist'), '.js.map');
    expect(maps.length).toBeGreaterThan(50);
    for (const m of maps) {
      const { sources } = JSON.parse(readFileSync(m, 'utf8')) as { sources: string[] };
      for (const s of sources) expect(existsSync(resolve(dirname(m), s)), `${m} → ${s}`).toBe(true);
    }
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toContain('MIT License');
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toContain('the portarc authors');
    // `man ./man/portarc.1` from the installed package (package.json "man" points npm at it).
    const out = execFileSync('man', ['./man/portarc.1'], { cwd: pkg, encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
    expect(out).toMatch(/portarc create/);
    expect(out).toMatch(/EXIT STATUS/);
    // --help and the man page point at the --json schemas: they are in the package.
    expect(out).toMatch(/docs\/cli-json\.md/);
    expect(readFileSync(join(pkg, 'docs/cli-json.md'), 'utf8')).toMatch(/^### verify-tree$/m);
  });
});
