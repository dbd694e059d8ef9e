// --help per command (examples, exit codes), the man page generated from the same definitions
// (current, shipped, rendered by man), and the completion scripts for bash, zsh and fish.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAN = join(ROOT, 'man/portarc.1');
const COMMANDS = ['create', 'extract', 'convert', 'list', 'verify', 'repair', 'info', 'completion'];

/** Every long option of a command, from its --help. */
function longOptions(command: string): string[] {
  return [...portarc([command, '--help']).stdout.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');
}

describe('help, man page, completion', () => {
  it('each command\'s --help shows examples and the exit codes', () => {
    for (const c of [...COMMANDS, undefined]) {
      const r = portarc(c ? [c, '--help'] : ['--help']);
      expect(r.status, c).toBe(0);
      expect(r.stdout, c).toMatch(/\nExamples:\n {2}\$ portarc /);
      expect(r.stdout, c).toMatch(/Exit status:\n {2}0 {2}success[^\n]*\n {2}1 {2}done, with warnings[^\n]*\n {2}2 {2}failure/);
    }
  });

  it('a usage error is one "portarc: error:" line, as every other error (spec §8.3), exit 2', () => {
    for (const args of [['verify', '-i', '-f', 'x.tar'], ['create', '-f', 'x.tar', '--threads', '-1', 'a'], ['bogus'], ['list']]) {
      const r = portarc(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^portarc: error: \S.*\n$/);
    }
  });

  it('man/portarc.1 is current: regenerated from the definitions, it is the same (npm run man)', () => {
    const r = portarc(['man']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(MAN, 'utf8'));
  });

  it('man renders it without warnings, with every command and option', () => {
    const r = spawnSync('man', ['--warnings', '-l', MAN], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '100', MANPAGER: 'cat', PAGER: 'cat', MAN_KEEP_FORMATTING: '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const text = r.stdout.replace(/.\x08/g, '').replace(/\u2010\n\s*/g, '');
    expect(text).toMatch(/^PORTARC\(1\)/);
    for (const c of COMMANDS) {
      expect(text).toContain(`portarc ${c} [options]`);
      for (const o of longOptions(c)) expect(text, `${c} ${o}`).toContain(o);
    }
    expect(text).toMatch(/EXIT STATUS\n\s+0\s+success/);
  });

  it('package.json ships it and names it', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.man).toEqual(['./man/portarc.1']);
    expect(pkg.files).toContain('man');
    expect(pkg.scripts.man).toMatch(/portarc\.js man > man\/portarc\.1/);
  });

  it('bash completion completes commands, aliases and options', () => {
    const script = portarc(['completion', 'bash']).stdout;
    const file = join(tempDir('completion'), 'portarc.bash');
    writeFileSync(file, script);
    const complete = (words: string[]) =>
      spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _portarc; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(complete(['portarc', 'ex'])).toEqual(['extract']);
    expect(complete(['portarc', 'i'])).toEqual(['info']);
    expect(complete(['portarc', 'extract', '--str'])).toEqual(['--strict', '--strip-components']);
    expect(complete(['portarc', 'x', '--keep-'])).toEqual(['--keep-damaged', '--keep-old-files', '--keep-newer-files']);
    expect(complete(['portarc', 'create', '--no-'])).toEqual(expect.arrayContaining(['--no-fsync', '--no-manifest', '--no-compress']));
    expect(spawnSync('bash', ['-c', `source ${file}; complete -p portarc`], { encoding: 'utf8' }).stdout).toContain('-F _portarc portarc');
  });

  it('zsh and fish completion scripts are valid and complete options', () => {
    const dir = tempDir('completion');
    const zsh = join(dir, '_portarc');
    writeFileSync(zsh, portarc(['completion', 'zsh']).stdout);
    const fish = join(dir, 'portarc.fish');
    writeFileSync(fish, portarc(['completion', 'fish']).stdout);
    const hasZsh = spawnSync('zsh', ['--version']).status === 0;
    const hasFish = spawnSync('fish', ['--version']).status === 0;
    if (!hasZsh || !hasFish) throw new Error('zsh and fish are needed (apt-get install zsh fish)');
    const z = spawnSync('zsh', ['-n', zsh], { encoding: 'utf8' });
    expect(z.status, z.stderr).toBe(0);
    expect(readFileSync(zsh, 'utf8')).toMatch(/^#compdef portarc\n/);
    const f = spawnSync('fish', ['-c', `source ${fish}; complete -C 'portarc extract --strip'; complete -C 'portarc ex'`], { encoding: 'utf8' });
    expect(f.status, f.stderr).toBe(0);
    expect(f.stdout).toMatch(/^--strip-components\tremove N leading components/m);
    expect(f.stdout).toMatch(/^extract\trestore the entries of an archive$/m);
    expect(portarc(['completion', 'tcsh']).stderr).toMatch(/no completion for shell "tcsh": use bash, zsh or fish/);
  });
});
