// The `portarc` command line: tar's habits (-f, -C, -v, "-" for stdin/stdout), --json for scripts,
// exit codes 0 success, 1 done with warnings or losses, 2 failure. Spec: spec/portarc-1.md §8.

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { constants as osConstants } from 'node:os';
import { basename } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { enableGcPacing } from '../model/gc-pacer.js';
import { parseLimit, type Limits } from '../model/limits.js';
import { describeErrno, ioError, PortarcError, UsageError } from '../model/errors.js';
import { convert } from '../api/convert.js';
import { create } from '../api/create.js';
import { describeExtractDamage, extract, ExtractDamagedError, type ExtractFailure, type ExtractResult } from '../api/extract.js';
import { list, ListDamagedError } from '../api/list.js';
import { describeDamage, verify } from '../api/verify.js';
import { describeDifference, verifyTree } from '../api/verify-tree.js';
import { VERSION } from '../api/version.js';
import { isUrl } from '../io/random-access.js';
import { addRecovery, recoveryStatus, repair, type RecoveryStatus } from '../api/repair.js';
import type { Loss } from '../fs/restore.js';
import { loadSys } from '../fs/sys.js';
import { zstdBackends } from '../compress/index.js';
import { SPEC_VERSION_TEXT, type ArchiveInfo } from '../tar/version.js';
import { describeSkipped } from '../tar/reader.js';
import { entryJson, lsLine } from './format.js';
import type { Progress } from '../api/progress.js';
import { ProgressBar } from './progress.js';
import { allOf, excludeOf, existingMode, namesOf, newerArg, newerFilter, withExcludeFlags, withFilesFromFlags, withWildcardsFlag, type SelectionFlags } from './selection.js';
import { parseDate } from './dates.js';
import { toStdout } from './to-stdout.js';
import { archiveInfo } from './info.js';
import { helpAfter } from './help.js';
import { manPage } from './man.js';
import { completionScript } from './completion.js';
import { nonUtf8Argument } from './raw-argv.js';

export const EXIT = { ok: 0, warnings: 1, failure: 2 } as const;

/** The version, the spec it implements, and which native pieces are in use (for bug reports). */
function versionText(): string {
  const zstd = zstdBackends()
    .map((b) => `${b.name}${b.available ? (b.zstdVersion ? ` ${b.zstdVersion}` : '') : ' (unavailable)'}`)
    .join(', ');
  return [`portarc ${VERSION}`, `spec ${SPEC_VERSION_TEXT}`, `system calls: ${loadSys().kind}`, `zstd: ${zstd}`].join('\n');
}

interface CompressFlags {
  format?: 'tar' | 'zip';
  zipMethod?: 'deflate' | 'store' | 'zstd';
  zipHardlinks?: 'copy' | 'link-only';
  gzip?: boolean;
  zstd?: boolean;
  compress: boolean;
  level?: number;
  threads?: number;
  manifest: boolean;
}

/** The writer flags that create and convert share. */
function withWriteFlags(cmd: Command): Command {
  return cmd
    .option('--format <format>', 'tar or zip (default: zip for a .zip name, else tar)', formatArg)
    .option('--zip-method <method>', 'zip member compression: deflate (default), store, or zstd (method 93: bsdtar and 7-Zip read it, unzip 6.00 does not)', zipMethodArg)
    .option('--zip-hardlinks <mode>', 'zip: copy (default; other tools extract the content, portarc relinks) or link-only (smaller)', zipHardlinksArg)
    .option('-z, --gzip', 'compress a tar with gzip (default for .tar.gz and .tgz)')
    .option('--zstd', 'compress a tar with seekable zstd (default for .tar.zst and .tzst)')
    .option('--no-compress', 'do not compress, whatever the suffix')
    .option('--level <n>', 'compression level (gzip 1-9, zstd 1-22, zip deflate 0-9)', intArg)
    .option('--threads <n>', 'zstd worker threads (default: one fewer than the cores, 1 to 4; output is identical for any count)', intArg)
    .option('--no-manifest', 'write a plain archive: no manifest, digests or trailer (spec/manifest.md)');
}

/** The writer options that create and convert share. */
function writeOptions(o: CompressFlags) {
  if (o.gzip && o.zstd) throw new InvalidArgumentError('choose one of --gzip and --zstd');
  return {
    format: o.format,
    zipMethod: o.zipMethod,
    zipHardlinks: o.zipHardlinks,
    compression: o.gzip ? ('gzip' as const) : o.zstd ? ('zstd' as const) : o.compress ? ('auto' as const) : ('none' as const),
    level: o.level,
    threads: o.threads,
    manifest: o.manifest,
  };
}

function formatArg(value: string): 'tar' | 'zip' {
  if (value !== 'tar' && value !== 'zip') throw new InvalidArgumentError('use tar or zip');
  return value;
}

function zipMethodArg(value: string): 'deflate' | 'store' | 'zstd' {
  if (value !== 'deflate' && value !== 'store' && value !== 'zstd') throw new InvalidArgumentError('use deflate, store or zstd');
  return value;
}

function zipHardlinksArg(value: string): 'copy' | 'link-only' {
  if (value !== 'copy' && value !== 'link-only') throw new InvalidArgumentError('use copy or link-only');
  return value;
}

/** --mtime: `@SECONDS[.FRACTION]` or an ISO 8601 date or time (dates.ts, as GNU tar reads them), as nanoseconds. */
function mtimeArg(value: string): bigint {
  const ns = parseDate(value);
  if (ns === undefined) throw new InvalidArgumentError(`"${value}" is not a time: use @SECONDS[.FRACTION] since 1970 or an ISO 8601 date (2024-01-31, 2024-01-31T12:00:00[.NNN], local time unless Z or +HH:MM follows)`);
  return ns;
}

/** "N%" or "N": a percentage in (0, 100]. */
/**
 * create's -C, once: GNU tar applies each -C to the paths after it, but the options here are not
 * positional, and the last one applied to every path archived the wrong files (d2/a as `a`).
 */
function oneDirectory(value: string, previous: string | undefined): string {
  if (previous !== undefined && previous !== value) throw new InvalidArgumentError(`given twice ("${previous}", then "${value}"): create takes one -C for every path (GNU tar's -C before each path is not supported); run create once per directory, or name the paths from one directory`);
  return value;
}

function percentArg(value: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError(`"${value}" is not a percentage above 0 and at most 100 (e.g. 10%)`);
  return n;
}

/** verify's line about the recovery data (embedded, or beside the archive), or undefined when there is none. */
async function recoveryLine(file: string, intact: boolean, embedded?: RecoveryStatus): Promise<{ text: string; damaged: boolean; json: unknown } | undefined> {
  try {
    const s = embedded ?? (await recoveryStatus(file));
    if (!s) return undefined;
    const bad = s.damagedBlocks + (s.length > s.expected ? 1 : 0);
    // Every byte proven intact by the manifest: a set whose blocks disagree was made for another
    // archive. (Bytes appended after the archive's end are not that: the set still fits it.)
    if (s.damagedBlocks > 0 && intact) {
      const text = `recovery data: describes another archive (this one is intact against its manifest): make a new set`;
      return { text, damaged: false, json: { ...s, stale: true, text } };
    }
    const damage = bad === 0 ? 'no damaged blocks' : `${s.damagedBlocks} damaged block${s.damagedBlocks === 1 ? '' : 's'}${s.length > s.expected ? ` and ${s.length - s.expected} bytes too many` : ''}, ${s.repairable ? 'repairable (portarc repair)' : 'NOT repairable'}`;
    const own = s.regionDamage?.length ? `; ${s.regionDamage.length} damaged place${s.regionDamage.length === 1 ? '' : 's'} in the recovery data itself (portarc repair writes it again)` : '';
    const text = `recovery data${s.embedded ? ' (embedded)' : ''}: ${s.blocks} blocks of ${s.sliceSize} bytes; ${damage}; ${Math.max(0, s.blocks - s.damagedBlocks)} blocks of budget left${own}`;
    return { text, damaged: bad > 0 || own !== '', json: { ...s, text } };
  } catch (err) {
    // Recovery data that cannot be used is damage to the backup, as embedded data's is (exit 2).
    const text = `recovery data: unusable: ${err instanceof Error ? err.message : String(err)}`;
    return { text, damaged: true, json: { error: text } };
  }
}

function intArg(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a whole number`);
  return Number(value);
}

function collectLimit(value: string, previous: Partial<Limits>): Partial<Limits> {
  try {
    return { ...previous, ...parseLimit(value) };
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** create -f -: the archive goes to stdout, where what was written before a stop cannot be taken back. */
let archiveToStdout = false;

/**
 * Standard output and error once their reader has gone (`| head`): a listing cut short is not a
 * reason to stop the work, so nothing more is printed there and the work goes on (spec §8.4).
 */
const closed: { stdout: boolean; stderr: boolean; stdoutError?: NodeJS.ErrnoException; stdoutPipe?: NodeJS.ErrnoException } = { stdout: false, stderr: false };

/** The progress line on stderr, while create or extract runs on a terminal (src/cli/progress.ts). */
let bar: ProgressBar | undefined;

function warn(msg: string): void {
  bar?.clear();
  flushOut(); // what stdout holds comes first, as it would line by line (2>&1 into one file)
  if (!closed.stderr) process.stderr.write(`portarc: ${msg}\n`);
}

/**
 * Lines for stdout not yet written. Unless stdout is a terminal they go out in writes of up to
 * OUT_BATCH bytes, as tar's stdio does: a write per line was a fifth of `list`'s time for 50,000
 * entries. Anything on stderr, and the end of the command, writes them first.
 */
let pendingOut = '';
const OUT_BATCH = 64 << 10;

/** Write the pending lines; false when stdout asks the caller to wait for 'drain'. */
function flushOut(): boolean {
  if (pendingOut === '') return true;
  const text = pendingOut;
  pendingOut = '';
  return closed.stdout || process.stdout.write(text);
}

/** Whether a line may wait in pendingOut (not on a terminal, where it shows at once). */
const batching = (text: string | Buffer) => typeof text === 'string' && !process.stdout.isTTY;

/**
 * A line of a listing on stdout (extract -v), dropped once the reader has closed the pipe. Written
 * at once: it says what has been restored so far (`| tee log`), and a reader that goes early
 * (`| head`) is then noticed and said (the listing was cut, the extraction was not).
 */
function say(line: string): void {
  bar?.clear();
  flushOut();
  if (!closed.stdout) process.stdout.write(line);
}

/**
 * Everything pending written, and the outcome known: an error of those writes (EPIPE, ENOSPC) is
 * reported by the stream a moment after the write, so `closed` is read after this.
 */
async function settleOut(): Promise<void> {
  if (!flushOut()) await drained();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The onProgress callback of a command: a bar when stderr is a terminal (or --progress), none with --quiet. */
function progressFor(o: { progress?: boolean; quiet?: boolean }): ((p: Progress) => void) | undefined {
  if (o.quiet || closed.stderr || !(o.progress || process.stderr.isTTY)) return undefined;
  bar = new ProgressBar(process.stderr, firstDrawMs());
  return bar.update;
}

/** PORTARC_PROGRESS_DELAY_MS: how long work runs before the bar first shows (the default when unset or not a number). */
function firstDrawMs(): number | undefined {
  const v = Number(process.env.PORTARC_PROGRESS_DELAY_MS ?? NaN);
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** --progress and -q/--quiet, for the commands that do long work. */
function withProgressFlags(cmd: Command): Command {
  return cmd
    .option('--progress', 'show the progress line on stderr even when it is not a terminal')
    .option('-q, --quiet', 'no progress line (it is shown by default when stderr is a terminal)');
}

/** tar's habit: `portarc -xvf A` or `portarc -c ...` for `portarc extract -vf A`, `portarc create ...`. */
export function tarStyle(argv: string[]): string[] {
  const m = /^-([cxt])([a-zA-Z]*)$/.exec(argv[0] ?? '');
  if (!m) return argv;
  const command = { c: 'create', x: 'extract', t: 'list' }[m[1] as 'c' | 'x' | 't'];
  return [command, ...(m[2] ? [`-${m[2]}`] : []), ...argv.slice(1)];
}

type ProgressFlags = { progress?: boolean; quiet?: boolean };

/** A line on stderr without the "portarc: " prefix (extract -v when stdout carries something else). */
function warnLine(line: string): void {
  bar?.clear();
  flushOut();
  if (!closed.stderr) process.stderr.write(`${line}\n`);
}

/** The archive-level data in JSON (list --json's "info", extract --json's too). */
function infoJson(info: ArchiveInfo): Record<string, unknown> {
  return { version: info.version ?? null, creator: info.creator ?? null, features: info.features, readOnly: info.readOnly, warnings: info.warnings, notices: info.notices };
}

/** Print stdout lines (or extract -O's content) without buffering it all, honouring backpressure. */
async function out(text: string | Buffer): Promise<void> {
  if (closed.stdout) return;
  if (batching(text)) {
    pendingOut += text as string;
    if (pendingOut.length < OUT_BATCH || flushOut()) return;
  } else {
    if (!flushOut()) await drained();
    if (closed.stdout || process.stdout.write(text)) return;
  }
  await drained();
}

/** Resolved when stdout may take more (or will take nothing more). */
function drained(): Promise<void> {
  if (closed.stdout) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      for (const ev of ['drain', 'error', 'close']) process.stdout.off(ev, done);
      resolve();
    };
    for (const ev of ['drain', 'error', 'close']) process.stdout.once(ev, done);
  });
}

/** What each kind of loss counts, singular and plural ("not restored: 6 entries, 1 ACL"). */
const LOSS_NOUN: Record<Loss['what'], readonly [string, string]> = {
  entry: ['entry', 'entries'],
  owner: ['owner', 'owners'],
  xattr: ['xattr', 'xattrs'],
  selinux: ['SELinux label', 'SELinux labels'],
  acl: ['ACL', 'ACLs'],
  device: ['device', 'devices'],
  time: ['time', 'times'],
  mode: ['mode', 'modes'],
  symlink: ['symlink', 'symlinks'],
};

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  // V8's heap, sized for memory (DESIGN §5: flat, under 100 MiB), in the CLI's process only (a
  // library leaves the process's flags alone). Both are read as the heap grows, so they work when
  // set here (the semi-space size itself can only be set at startup):
  // - the young generation stays at its starting size: by default it grows to 16 MiB semi-spaces
  //   (more on Node 24), holding garbage and the Buffers it owns (50,000 files extracted: 97 → 80 MiB);
  // - many small files make objects that outlive a young collection or two: V8's default old-space
  //   growth lets that garbage reach ~80 MiB before a full collection (20,000 files archived: 153 →
  //   104–111 MiB).
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--optimize-for-size');
  // - node:zlib's fresh output chunks are collected every 8 MiB, not late (src/model/gc-pacer.ts).
  enableGcPacing();
  // A reader that stops early (`portarc list | head`, `extract -v | head`) closes the pipe: print
  // no more there, but never end the work early. When stdout carries the archive (`-f -`), the
  // writer sees the same error on its own listener and fails loudly (exit 2).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    closed.stdout = true;
    // EPIPE: the reader chose to stop (a listing may be cut; content written with -O may not).
    // Anything else (ENOSPC, EIO) lost output someone wanted.
    if (err.code !== 'EPIPE') closed.stdoutError ??= err;
    else closed.stdoutPipe ??= err;
  });
  process.stderr.on('error', () => (closed.stderr = true));
  // A stray error outside the awaited work is still one line and exit 2, never a stack trace.
  let exiting = false; // process.exit() on purpose below: not the silent stop `unfinished` reports
  const crash = (err: unknown) => {
    reportError(err);
    exiting = true;
    process.exit(EXIT.failure);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  // Ctrl-C or a kill: the work stops through its AbortSignal and cleans up as it does on any failure
  // (no .partial, no temporary file, nothing half-made under a final name), then exits 128+N as a
  // shell expects. A second signal exits at once.
  const interrupt = new AbortController();
  const signal = interrupt.signal;
  const onSignal = (name: NodeJS.Signals) => {
    if (signal.aborted) {
      exiting = true;
      process.exit(interruptedCode(name));
    }
    warn(`interrupted (${name}): stopping and removing what was half-written (again to quit at once)`);
    interrupt.abort(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const program = new Command('portarc')
    .description('Portable backup archives: pax tar with every piece of Unix metadata')
    .version(versionText(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => say(s),
      writeErr: (s) => void (flushOut(), closed.stderr || process.stderr.write(s)),
      // Option errors read as every other error does ("portarc: error: ...", spec §8.3): a log
      // parser matching the prefix sees them too.
      outputError: (s, write) => write(s.startsWith('error: ') ? `portarc: ${s}` : s),
    });

  program
    .command('create')
    .alias('c')
    .description('archive PATHs into a new archive')
    .requiredOption('-f, --file <archive>', 'archive to write ("-" for stdout)')
    .option('-C, --directory <dir>', 'change to DIR before reading the paths (once: it applies to every path)', oneDirectory)
    .option('-S, --sparse', 'store files with holes as sparse entries (7-Zip cannot expand these)')
    .option('-v, --verbose', 'list entries as they are written (on stderr)')
    .option('--recovery <N%>', 'also write PAR2 recovery data ARCHIVE.par2 + ARCHIVE.vol*.par2 able to rebuild about N% of the archive (spec/recovery.md)', percentArg)
    .option('--embed-recovery', 'with --recovery: put the recovery data inside the archive file, after the archive, where other tools do not see it (spec/recovery.md §10)')
    .option('--newer <date>', 'archive only what changed (data or status) at or after DATE (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM], local time without a zone; @SECONDS; or a file whose mtime is used); directories always', newerArg)
    .option('--one-file-system', 'do not descend into directories on other filesystems (the mount point itself is archived)')
    .option('--no-recursion', 'archive the directories named without what they hold (for a list from find: -T)')
    .option('--no-fsync', 'do not fsync the archive before it gets its name: for scratch archives and measurements, NOT crash-safe')
    .option('--deterministic', 'the same tree gives the same bytes from any directory at any time: no atime/ctime, no user/group names, mtimes clamped to SOURCE_DATE_EPOCH when set (spec §8.7)')
    .option('--mtime <date>', 'set every mtime to DATE (@SECONDS[.FRACTION], or an ISO 8601 date or time: local time unless Z or +HH:MM follows, as GNU tar)', mtimeArg)
    .option('--json', 'one JSON document on stdout: what was written (docs/cli-json.md)')
    .argument('[path...]', 'files and directories to archive');
  withProgressFlags(withFilesFromFlags(withExcludeFlags(withWriteFlags(program.commands.at(-1)!)), 'the paths to archive')).action(async (args: string[], o: CompressFlags & SelectionFlags & ProgressFlags & { file: string; directory?: string; sparse?: boolean; verbose?: boolean; recovery?: number; embedRecovery?: boolean; newer?: bigint; oneFileSystem?: boolean; recursion: boolean; fsync: boolean; json?: boolean; deterministic?: boolean; mtime?: bigint }) => {
      if (o.recovery !== undefined && o.file === '-') throw new UsageError('--recovery needs an archive file, not standard output');
      archiveToStdout = o.file === '-';
      if (o.embedRecovery && o.recovery === undefined) throw new UsageError('--embed-recovery goes with --recovery N% (how much to be able to rebuild)');
      if (o.json && o.file === '-') throw new UsageError('--json prints on stdout: it cannot be combined with -f - (the archive on stdout)');
      const paths = namesOf(args, o);
      if (!paths.length) throw new UsageError('nothing to archive: name files or directories (or -T FILE)');
      const result = await create(paths, o.file, {
        signal,
        cwd: o.directory,
        sparse: o.sparse,
        ...writeOptions(o),
        filter: allOf(excludeOf(o), o.newer === undefined ? undefined : newerFilter(o.newer)),
        oneFileSystem: o.oneFileSystem,
        recursive: o.recursion,
        fsync: o.fsync,
        deterministic: o.deterministic,
        mtime: o.mtime,
        embedRecovery: o.embedRecovery ? o.recovery : undefined,
        onProgress: progressFor(o),
        onEntry: o.verbose ? (e) => (bar?.clear(), flushOut(), void (closed.stderr || process.stderr.write(`${e.name}\n`))) : undefined,
      });
      bar?.clear();
      for (const n of result.notices) warn(`note: ${n}`);
      for (const w of result.warnings) warn(`warning: ${w}`);
      if (result.warnings.length) code = EXIT.warnings;
      for (const l of result.losses) warn(`not archived: ${l}`);
      if (result.losses.length) code = EXIT.failure;
      let recovery: unknown;
      if (result.recovery) {
        const r = result.recovery;
        recovery = { embedded: true, ...r };
        warn(`recovery data: ${r.recoverySlices} blocks of ${r.sliceSize} bytes for ${r.inputSlices} archive blocks (${o.recovery}%) embedded after the archive (${r.bytes} bytes)`);
      } else if (o.recovery !== undefined) {
        const r = await addRecovery(o.file, { percent: o.recovery });
        recovery = r;
        warn(`recovery data: ${r.recoverySlices} blocks of ${r.sliceSize} bytes for ${r.inputSlices} archive blocks (${o.recovery}%) in ${r.index}, ${r.volume}`);
      }
      if (o.json) await out(JSON.stringify({ command: 'create', archive: o.file, entries: result.entries, bytes: result.bytes, warnings: result.warnings, notices: result.notices, losses: result.losses, ...(recovery ? { recovery } : {}), exitCode: code }) + '\n');
    });

  program
    .command('extract')
    .alias('x')
    .description('restore the entries of an archive')
    .requiredOption('-f, --file <archive>', 'archive to read ("-" for stdin)')
    .option('-C, --directory <dir>', 'extract under DIR', '.')
    .option('-p, --preserve', 'ask for everything: owners, setuid/setgid, devices, capabilities (the default as root; as a user, what cannot be done is a loss)')
    .option('--same-permissions', 'restore setuid/setgid bits, device nodes, security.capability and trusted.* xattrs (default as root)')
    .option('--no-same-permissions', 'clear setuid/setgid bits; no device nodes, security.capability or trusted.* xattrs')
    .option('--same-owner', 'restore owners, by name then id (default as root)')
    .option('--no-same-owner', 'leave files owned by the user running portarc')
    .option('--untrusted', 'strict profile for archives from elsewhere (Python tarfile\'s "data" filter): no owners, setuid, group/other write, devices, fifos, capabilities, or symlinks pointing outside DIR')
    .option('--numeric-owner', 'use the numeric ids in the archive, not the names')
    .option('-v, --verbose', 'list entries as they are extracted')
    .option('--strict', 'exit 2 (failure) when anything could not be restored')
    .option('--no-fsync', 'do not fsync extracted files and directories (faster, not crash-safe)')
    .option('--limit <name=value>', 'raise or lower a bound (bytes, entries, pathBytes, depth, headerBytes, xattrs, xattrBytes; K/M/G/T suffixes)', collectLimit, {})
    .option('-P, --absolute-names', 'unsafe: keep ".." components in member paths (a leading "/" is still removed)')
    .option('--manifest', 'also extract the manifest and trailer (.portarc/manifest.xml, .portarc/trailer)')
    .option('--keep-damaged', 'keep a file whose content does not match the manifest as NAME.damaged (default: removed)')
    .option('--strip-components <n>', 'remove N leading components from member names and hardlink targets ("." counts); members with no more are skipped', intArg)
    .option('-i, --ignore-zeros', 'read on past the end-of-archive blocks: archives concatenated (cat a.tar b.tar) are read as one')
    .option('-O, --to-stdout', 'write the content of the selected files to stdout, one after the other; nothing on disk')
    .option('-k, --keep-old-files', 'do not replace existing files: each one is an error (exit 2)')
    .option('--skip-old-files', 'do not replace existing files, silently')
    .option('--keep-newer-files', 'do not replace existing files that are newer than (or as old as) the member')
    .option('--json', 'one JSON document on stdout: what was restored, lost, damaged (docs/cli-json.md)')
    .argument('[path...]', 'extract only these members and directories (read through the manifest when the archive is seekable)');
  withProgressFlags(withFilesFromFlags(withWildcardsFlag(withExcludeFlags(program.commands.at(-1)!)), 'the members to extract'))
    .action(async (args: string[], o: SelectionFlags & ProgressFlags & { file: string; directory: string; preserve?: boolean; samePermissions?: boolean; sameOwner?: boolean; untrusted?: boolean; numericOwner?: boolean; verbose?: boolean; strict?: boolean; absoluteNames?: boolean; fsync: boolean; limit: Partial<Limits>; manifest?: boolean; keepDamaged?: boolean; stripComponents?: number; ignoreZeros?: boolean; toStdout?: boolean; keepOldFiles?: boolean; skipOldFiles?: boolean; keepNewerFiles?: boolean; json?: boolean }) => {
      const sys = loadSys();
      const paths = namesOf(args, o, o.file);
      const filter = excludeOf(o);
      const existing = existingMode(o);
      // -v lists on stdout, unless stdout carries the JSON document or the content (-O): then on stderr.
      const list = o.verbose ? (o.json || o.toStdout ? (e: { name: string }) => warnLine(e.name) : (e: { name: string }) => say(`${e.name}\n`)) : undefined;
      if (o.toStdout && o.json) throw new UsageError('-O writes the content on stdout: it cannot be combined with --json');
      // Damage (spec §6.8) is reported after everything else was restored: the report, then exit 2.
      const extracted = o.toStdout
        ? toStdout(o.file, { paths, wildcards: o.wildcards, filter, limits: o.limit, signal, write: out, onEntry: list, ignoreZeros: o.ignoreZeros })
        : extract(o.file, o.directory, {
        signal,
        preserve: o.preserve,
        samePermissions: o.samePermissions,
        sameOwner: o.sameOwner,
        untrusted: o.untrusted,
        numericOwner: o.numericOwner,
        absoluteNames: o.absoluteNames,
        fsync: o.fsync,
        limits: o.limit,
        manifest: o.manifest,
        keepDamaged: o.keepDamaged,
        paths,
        wildcards: o.wildcards,
        filter,
        stripComponents: o.stripComponents,
        ignoreZeros: o.ignoreZeros,
        existing,
        onProgress: progressFor(o),
        onEntry: list,
      });
      const result: ExtractResult = await extracted.catch((err: unknown) => {
        if (err instanceof ExtractDamagedError) return err.result;
        // A failure that ended the extraction (a full disk): what it lost is named before it.
        bar?.clear();
        for (const l of (err as ExtractFailure).result?.losses ?? []) warn(`not restored: ${l.path}: ${l.what}: ${l.reason}`);
        throw err;
      });
      bar?.clear();
      await settleOut();
      // -O: stdout carries the files' content, and a reader that went away took less than all of it
      // (GNU tar dies of SIGPIPE, bsdtar says "Broken pipe"): a failure, never exit 0.
      const lostContent = closed.stdoutError ?? closed.stdoutPipe;
      if (o.toStdout && lostContent) throw ioError(lostContent, 'cannot write the content', '(stdout)');
      if (closed.stdoutError) {
        warn(`warning: the listing could not be written to standard output: ${describeErrno(closed.stdoutError)}; the extraction was completed`);
        code = Math.max(code, EXIT.warnings);
      } else if (o.verbose && closed.stdout) warn('note: standard output was closed by its reader: the listing was cut, the extraction was not');
      // Notices (unknown keywords skipped by rule, a hardlink restored as a copy) are printed as
      // notes: they leave the exit code at 0 (spec §6.5); warnings make it 1.
      for (const n of result.notices) warn(`note: ${n}`);
      for (const w of result.warnings) warn(`warning: ${w}`);
      for (const n of result.notes) warn(`note: ${n}`);
      for (const l of result.losses) warn(`not restored: ${l.path}: ${l.what}: ${l.reason}`);
      if (result.losses.length) {
        const byKind = new Map<Loss['what'], number>();
        for (const l of result.losses) byKind.set(l.what, (byKind.get(l.what) ?? 0) + 1);
        warn(`summary: ${result.entries} ${result.entries === 1 ? 'entry' : 'entries'} extracted; not restored: ${[...byKind].map(([k, n]) => `${n} ${LOSS_NOUN[k][n === 1 ? 0 : 1]}`).join(', ')}`);
        if (sys.kind === 'fallback') warn('native addon not built: metadata was restored through getfattr/setfattr');
      }
      if (result.warnings.length || result.losses.length) code = o.strict && result.losses.length ? EXIT.failure : EXIT.warnings;
      // A member missing from disk (refused, e.g. it would go through a symlink, or failed) is a failure.
      if (result.losses.some((l) => l.what === 'entry')) code = EXIT.failure;
      const archiveName = o.file === '-' ? '(stdin)' : o.file;
      for (const d of result.damaged) warn(`error: ${describeExtractDamage(d, archiveName)}`);
      if (result.damaged.length) {
        warn(`error: ${archiveName}: damaged: ${result.damaged.length} damaged place${result.damaged.length === 1 ? '' : 's'}; ${result.entries} ${result.entries === 1 ? 'entry' : 'entries'} extracted`);
        code = EXIT.failure;
      }
      if (o.json) {
        const { entries, warnings, notices, notes, losses, damaged, info } = result;
        await out(JSON.stringify({ command: 'extract', archive: archiveName, directory: o.directory, entries, skipped: result.skipped, warnings, notices, notes, losses, damaged, info: infoJson(info), exitCode: code }) + '\n');
      }
    });

  program
    .command('convert')
    .description('copy every entry of an archive into a new one: tar <-> zip, plain <-> gzip <-> zstd')
    .argument('<in>', 'archive to read ("-" for stdin)')
    .argument('<out>', 'archive to write ("-" for stdout); .zip means zip, .tar.gz gzip, .tar.zst zstd')
    .option('--json', 'one JSON document on stdout: what was converted (docs/cli-json.md)');
  withWriteFlags(program.commands.at(-1)!).action(async (input: string, output: string, o: CompressFlags & { json?: boolean }) => {
      if (o.json && output === '-') throw new UsageError('--json prints on stdout: it cannot be combined with "-" (the archive on stdout)');
      const result = await convert(input, output, { ...writeOptions(o), signal });
      for (const n of result.notices) warn(`note: ${n}`);
      for (const w of result.warnings) warn(`warning: ${w}`);
      if (result.portarcOnly.length) {
        warn(`note: ${result.to} keeps everything for portarc, but other tools will not restore: ${result.portarcOnly.join('; ')}`);
      }
      process.stderr.write(`portarc: converted ${result.entries} entries, ${result.from} -> ${result.to}\n`);
      if (result.warnings.length) code = EXIT.warnings;
      if (o.json) {
        const { entries, bytes, from, to, warnings, notices, portarcOnly } = result;
        await out(JSON.stringify({ command: 'convert', input: input === '-' ? '(stdin)' : input, output, from, to, entries, bytes, warnings, notices, portarcOnly, exitCode: code }) + '\n');
      }
    });

  program
    .command('list')
    .alias('ls')
    .alias('t')
    .description('list the entries of an archive')
    .requiredOption('-f, --file <archive>', 'archive to read ("-" for stdin)')
    .option('-v, --verbose', 'long listing: mode (+ after it: xattrs, an SELinux label or ACLs), owner, size, time')
    .option('--json', 'one JSON document: every entry with all its metadata')
    .option('--all', 'also list the manifest and trailer members')
    .option('-i, --ignore-zeros', 'read on past the end-of-archive blocks: archives concatenated (cat a.tar b.tar) are read as one')
    .option('--limit <name=value>', 'raise or lower a bound (entries, headerBytes, xattrs, xattrBytes)', collectLimit, {})
    .argument('[path...]', 'list only these members and directories');
  withFilesFromFlags(withWildcardsFlag(withExcludeFlags(program.commands.at(-1)!)), 'the members to list')
    .action(async (args: string[], o: SelectionFlags & { file: string; verbose?: boolean; json?: boolean; all?: boolean; ignoreZeros?: boolean; limit: Partial<Limits> }) => {
      const paths = namesOf(args, o, o.file);
      const listing = list(o.file, { limits: o.limit, all: o.all, paths, wildcards: o.wildcards, signal, ignoreZeros: o.ignoreZeros });
      const keep = excludeOf(o);
      let first = true;
      if (o.json) await out('{"entries":[\n');
      let warnings = 0;
      let damage: ListDamagedError | undefined;
      // Any other failure part way (a gzip CRC, a truncated stream) ends the listing, but the JSON
      // document is closed first: one document or nothing, never half of one (docs/cli-json.md).
      let fatal: unknown;
      const entries = (async function* () {
        try {
          yield* listing;
        } catch (err) {
          if (err instanceof ListDamagedError) damage = err;
          else fatal = err;
        }
      })();
      for await (const e of entries) {
        if (closed.stdout) break; // the reader has stopped (`| head`): so do we, quietly, as tar does
        if (keep && !keep(e)) continue;
        warnings += e.warnings.length;
        if (o.json) {
          await out((first ? '' : ',\n') + JSON.stringify(entryJson(e)));
          first = false;
        } else {
          for (const n of e.notices) warn(`note: ${e.name}: ${n}`);
          for (const w of e.warnings) warn(`warning: ${e.name}: ${w}`);
          await out((o.verbose ? lsLine(e) : e.name) + '\n');
        }
      }
      const info = listing.info;
      if (o.json) {
        await out(`\n],"info":${JSON.stringify(infoJson(info))}}\n`);
      }
      await settleOut();
      if (fatal !== undefined) throw fatal;
      for (const n of info.notices) warn(`note: ${n}`);
      for (const w of info.warnings) warn(`warning: ${w}`);
      if (warnings || info.warnings.length) code = EXIT.warnings;
      const archiveName = o.file === '-' ? '(stdin)' : o.file;
      for (const d of damage?.damaged ?? []) warn(`error: ${archiveName}${d.entry === undefined ? '' : `, entry "${d.entry}"`}, bytes ${d.range[0]}-${d.range[1]}: ${describeSkipped(d)}`);
      if (damage) code = EXIT.failure;
      // The listing is the work here: one that could not be written is a failure.
      if (closed.stdoutError) throw ioError(closed.stdoutError, 'cannot write the listing', '(stdout)');
    });

  program
    .command('verify')
    .description('check an archive against its manifest and its own checksums; with -C, compare a restored tree with the archive; nothing is written (exit 0 clean, 1 with -C: clean but the reading warned, 2 damaged or different)')
    .requiredOption('-f, --file <archive>', 'archive to read ("-" for stdin)')
    .option('-C, --directory <dir>', 'compare the tree under DIR with the archive: content and every piece of metadata, as extract restores them')
    .option('--json', 'one JSON document: every damaged place (with -C: every difference), what was checked')
    .option('--limit <name=value>', 'raise or lower a bound (entries, headerBytes, xattrs, xattrBytes)', collectLimit, {})
    .option('-p, --preserve', 'with -C: the tree was extracted with -p (as a user: setuid/setgid and owners compared too)')
    .option('--same-permissions', 'with -C: the tree was extracted with --same-permissions')
    .option('--no-same-permissions', 'with -C: the tree was extracted with --no-same-permissions')
    .option('--same-owner', 'with -C: the tree was extracted with --same-owner')
    .option('--no-same-owner', 'with -C: the tree was extracted with --no-same-owner (owners not compared)')
    .option('--numeric-owner', 'with -C: the tree was extracted with --numeric-owner')
    .option('--untrusted', 'with -C: the tree was extracted with --untrusted')
    .option('--atime', 'with -C: compare access times too')
    .option('--ignore-extra', 'with -C: do not report files that are not in the archive')
    .argument('[path...]', 'with -C: compare only these members and directories')
    .action(async (paths: string[], o: VerifyFlags) => {
      if (o.directory !== undefined) return verifyDirectory(paths, o);
      if (paths.length) throw new UsageError('PATH arguments go with -C DIR (compare a restored tree)');
      const r = await verify(o.file, { limits: o.limit, signal });
      const name = o.file === '-' ? '(stdin)' : o.file;
      // The sidecar recovery set, if there is one (spec/recovery.md §7): additive, and damage its
      // block checksums find is damage, whatever the manifest said.
      // Embedded data (spec/recovery.md §10) was checked by verify itself: its damage is in r.damaged.
      const embedded = r.embeddedRecovery === true;
      // A URL's sidecar set would be other URLs: not looked for (said, so that OK claims no more than it checked).
      if (isUrl(o.file) && !embedded) r.notes.push('recovery data beside an http(s) archive is not looked for (portarc repair needs the files)');
      const rec = o.file === '-' || (isUrl(o.file) && !embedded) ? undefined : embedded ? (r.recovery ? await recoveryLine(o.file, false, r.recovery) : undefined) : await recoveryLine(o.file, r.ok && r.method === 'ranges');
      if (o.json) await out(JSON.stringify(rec ? { ...r, recovery: rec.json } : r) + '\n');
      else {
        for (const d of r.damaged) await out(`${name}: damaged: ${describeDamage(d)}\n`);
        for (const n of r.notes) warn(`note: ${n}`);
        const checked = r.checkedContent ? 'contents checked against the manifest' : 'structure only: contents could not be checked';
        await out(r.ok ? `${name}: OK: ${r.entries} entries, ${checked}\n` : `${name}: DAMAGED: ${r.damaged.length} damaged place${r.damaged.length === 1 ? '' : 's'} (${checked})\n`);
        if (rec) await out(`${name}: ${rec.text}\n`);
      }
      if (!r.ok || rec?.damaged) code = EXIT.failure;
    });

  interface VerifyFlags {
    file: string;
    directory?: string;
    json?: boolean;
    limit: Partial<Limits>;
    preserve?: boolean;
    sameOwner?: boolean;
    samePermissions?: boolean;
    numericOwner?: boolean;
    untrusted?: boolean;
    atime?: boolean;
    ignoreExtra?: boolean;
  }

  /** verify -C: one line per difference, `DIR/PATH: PROPERTY: archive A, disk B`, then a summary. */
  async function verifyDirectory(paths: string[], o: VerifyFlags): Promise<void> {
    const dir = o.directory!;
    const r = await verifyTree(o.file, dir, {
      // As extract takes them: unset is the default for who runs it (root: both; a user: neither).
      preserve: o.preserve,
      sameOwner: o.sameOwner,
      samePermissions: o.samePermissions,
      numericOwner: o.numericOwner,
      untrusted: o.untrusted,
      atime: o.atime,
      ignoreExtra: o.ignoreExtra,
      paths,
      limits: o.limit,
    });
    const name = o.file === '-' ? '(stdin)' : o.file;
    const prefix = dir.replace(/\/+$/, '') || '/';
    if (o.json) await out(JSON.stringify({ ...r, archive: name }) + '\n');
    else {
      for (const d of r.differences) await out(`${prefix}/${describeDifference(d)}\n`);
      for (const w of r.warnings) warn(`warning: ${w}`);
      for (const n of r.notes) warn(`note: ${n}`);
      const how = r.content.archive ? (r.content.manifest ? 'contents by the manifest and the archive' : 'contents by the archive') : 'contents by the manifest';
      const n = r.differences.length;
      await out(r.ok ? `${prefix}: OK: ${r.entries} entries match ${name} (${how})\n` : `${prefix}: DIFFERENT: ${n} difference${n === 1 ? '' : 's'} from ${name} in ${r.entries} entries (${how})\n`);
    }
    if (!r.ok) code = EXIT.failure;
    else if (r.warnings.length) code = EXIT.warnings;
  }

  program
    .command('repair')
    .description('rebuild a damaged archive from its PAR2 recovery data (ARCHIVE.par2): byte-identical, to a new file (exit 0 repaired, 2 not repairable)')
    .requiredOption('-f, --file <archive>', 'the damaged archive')
    .option('-o, --output <file>', 'write the repaired archive here (default: ARCHIVE.repaired)')
    .option('--in-place', 'replace the archive itself (through a temporary file and a rename: crash-safe)')
    .action(async (o: { file: string; output?: string; inPlace?: boolean }) => {
      const r = await repair(o.file, { output: o.output, inPlace: o.inPlace, signal });
      const where = r.damagedRanges.map(([a, b]) => `${a}-${b}`).join(', ');
      if (r.repairedBlocks === 0 && r.length === r.expected && !r.regionDamage?.length) {
        await out(`${o.file}: no damage found (${r.blocks} recovery blocks)${r.output === o.file ? '' : `; copied to ${r.output}`}\n`);
      } else {
        const cut = r.length > r.expected ? `; removed ${r.length - r.expected} bytes past the archive's end` : '';
        const own = r.regionDamage?.length ? `; wrote the embedded recovery data again (${r.regionDamage.length} damaged place${r.regionDamage.length === 1 ? '' : 's'} in it)` : '';
        const blocks = r.repairedBlocks || !own ? `repaired ${r.repairedBlocks} damaged block${r.repairedBlocks === 1 ? '' : 's'} of ${r.sliceSize} bytes${where ? ` (bytes ${where})` : ''} with ${r.repairedBlocks} of ${r.blocks} recovery blocks` : 'the archive was intact';
        await out(`${o.file}: ${blocks}${cut}${own} -> ${r.output}\n`);
      }
    });

  program
    .command('info')
    .description('what an archive is and holds: container, compression, spec version, features, entries, totals, and what older readers do with it')
    .requiredOption('-f, --file <archive>', 'archive to read ("-" for stdin)')
    .option('--json', 'one JSON document (docs/cli-json.md)')
    .option('--limit <name=value>', 'raise or lower a bound (entries, headerBytes, xattrs, xattrBytes)', collectLimit, {})
    .action(async (o: { file: string; json?: boolean; limit: Partial<Limits> }) => {
      const r = await archiveInfo(o.file, o.limit);
      for (const n of r.notices) warn(`note: ${n}`);
      for (const w of r.warnings) warn(`warning: ${w}`);
      if (r.warnings.length) code = EXIT.warnings;
      if (o.json) return out(JSON.stringify({ command: 'info', ...r, exitCode: code }) + '\n');
      const types = Object.entries(r.byType).map(([t, n]) => `${n} ${t}`);
      await out(
        [
          `archive:      ${r.archive}${r.size === null ? '' : ` (${r.size} bytes)`}`,
          `container:    ${r.container ?? 'unknown'}${r.compression && r.compression !== 'none' ? `, ${r.compression}` : ''}`,
          `spec version: ${r.specVersion ?? 'none (not made by portarc)'}; this reader: ${r.reader}`,
          `creator:      ${r.creator ?? 'unknown'}`,
          `features:     ${(['compat', 'rocompat', 'incompat'] as const).flatMap((c) => r.features[c].map((f) => `${f} (${c})`)).join(', ') || 'none'}`,
          `entries:      ${r.entries}${types.length ? ` (${types.join(', ')})` : ''}`,
          `content:      ${r.contentBytes} bytes in files`,
          `read through: ${r.method === 'manifest' ? 'the manifest' : 'every header (no manifest, or not seekable)'}`,
          `recovery:     ${r.recovery === null ? 'none' : r.recovery.embedded ? `embedded after the archive (${r.recovery.bytes} bytes from offset ${r.recovery.archiveLength}; ${r.recovery.blocks} blocks, layout ${r.recovery.layout})` : `beside it (${r.recovery.files.map((f) => basename(f)).join(', ')})`}`,
          'compatibility:',
          ...r.compatibility.map((c) => `  ${c}`),
        ].join('\n') + '\n',
      );
    });

  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => out(completionScript(program, shell)));

  // `npm run man` writes man/portarc.1 from these very definitions (src/cli/man.ts).
  program.command('man', { hidden: true }).description('print the man page (roff)').action(async () => out(manPage(program)));

  for (const c of [program, ...program.commands]) c.addHelpText('after', helpAfter(c.name()));

  // Never a silent exit: should the work ever wait on something that can no longer happen, Node
  // would end the process (exit 13, nothing said) when its event loop runs dry. Say so, exit 2.
  const unfinished = () => {
    if (exiting) return;
    warn('internal error: stopped before the work was done (it waited on something that could not happen; please report)');
    process.exitCode = EXIT.failure;
  };
  process.once('exit', unfinished);
  try {
    // The process's own arguments (not a test's): refuse one Node has changed (src/cli/raw-argv.ts).
    if (argv.length === process.argv.length - 2 && argv.every((a, i) => a === process.argv[i + 2])) {
      const bad = nonUtf8Argument(argv);
      if (bad !== undefined) {
        throw new UsageError(`argument ${bad + 1} ("${argv[bad]}") is not UTF-8: Node reads the command line as UTF-8 text and would take it for another name (U+FFFD for each byte it cannot read); give a directory above it instead, whose contents are read with their names as bytes`);
      }
    }
    await program.parseAsync(tarStyle(argv), { from: 'user' });
    // The signal came when the work was past its last point of stopping (its final renames, say):
    // it completed, and the exit status is its own; "removing what was half-written" is taken back.
    if (signal.aborted) warn(`interrupted (${String(signal.reason)}) too late to stop: the work completed, nothing was removed`);
    return code;
  } catch (err) {
    bar?.clear();
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.failure;
    if (signal.aborted) {
      warn(
        archiveToStdout
          ? `interrupted (${String(signal.reason)}): stopped; the archive on standard output was ended so that no reader takes it for complete (every tar and zip reader fails on it)`
          : `interrupted (${String(signal.reason)}): stopped; nothing half-written was left`,
      );
      return interruptedCode(signal.reason as NodeJS.Signals);
    }
    reportError(err);
    return EXIT.failure;
  } finally {
    flushOut();
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    process.off('exit', unfinished);
  }
}

/** 128 + the signal's number, as a shell reports a command a signal ended. */
function interruptedCode(name: NodeJS.Signals): number {
  return 128 + (osConstants.signals[name] ?? 2);
}

/**
 * One line on stderr. A PortarcError says what and where (spec §8.3); anything else is a bug in
 * portarc, said as such, with the stack only on request.
 */
export function reportError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof PortarcError && err.code !== 'PORTARC_INTERNAL') warn(`error: ${message}`);
  else warn(`internal error: ${message.split('\n')[0]} (please report; PORTARC_DEBUG=1 shows the stack)`);
  if (process.env.PORTARC_DEBUG && err instanceof Error) warn(`${err.stack}`);
}
