// Run the built `portarc` command (dist/, made by `npm test`'s tsc step) as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/portarc.js', import.meta.url));

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function portarc(args: string[], opts: { input?: Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input: opts.input,
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * What a killed extraction may leave besides whole files under real names: its temporaries, and
 * the scratch file of the name-folding probe (restore.ts foldsNames) when the kill lands in the
 * microseconds it exists (CI hit it once, 2026-12-06; so did crash.test.ts under load).
 */
export const LEFT_BY_KILL = /(^|\/)\.portarc-(\d+-\d+\.tmp|probe-\d+-a\u00e9)$/;

/** Run portarc and SIGKILL it after `ms` (never, if undefined); resolves with its exit code (null if killed). */
export function runAndKill(args: string[], ms: number | undefined, opts: { cwd?: string } = {}): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', cwd: opts.cwd });
    const timer = ms === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** The warning an extraction without the addon gives once when it set times to the microsecond (spec §9.1). */
export const ROUNDED_TIMES = /^portarc: warning: times set to the microsecond on \d+ entr(y|ies): their nanoseconds need portarc's native addon, which this build lacks \(portarc --version: "system calls: fallback"\)\n/m;

/**
 * A run without the addon as it would be with it: that one warning taken out of stderr and, when
 * it was the run's only warning (exit 1), the exit code it made. Asserts the warning was there
 * unless `maybe` (an archive whose times may all be whole microseconds).
 */
export function asIfNative(r: Run, maybe = false): Run {
  if (!ROUNDED_TIMES.test(r.stderr)) {
    if (maybe) return r;
    throw new Error(`expected the rounded-times warning, got: ${r.stderr}`);
  }
  const stderr = r.stderr.replace(ROUNDED_TIMES, '');
  const alone = r.status === 1 && !/^portarc: (warning|not restored|not archived)/m.test(stderr);
  return { ...r, stderr, status: alone ? 0 : r.status };
}
