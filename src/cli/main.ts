// The `portarc` command line: tar's habits (-f, -C, -v, "-" for stdin/stdout), --json for scripts,
// exit codes 0 success, 1 done with warnings or losses, 2 failure. Spec: spec/portarc-1.md §8.

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { setFlagsFromString } from 'node:v8';
import { parseLimit, type Limits } from '../model/limits.js';
import { describeErrno, ioError, PortarcError, UsageError } from '../model/errors.js';
import { convert } from '../api/convert.js';
import { create } from '../api/create.js';
import { describeExtractDamage, extract, ExtractDamagedError, type ExtractResult } from '../api/extract.js';
import { list, ListDamagedError } from '../api/list.js';
import { describeDamage, verify } from '../api/verify.js';
import { VERSION } from '../api/version.js';
import { addRecovery, recoveryStatus, repair } from '../api/repair.js';
import { loadSys } from '../fs/sys.js';
import { zstdBackends } from '../compress/index.js';
import { SPEC_VERSION_TEXT } from '../tar/version.js';
import { entryJson, lsLine } from './format.js';

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
    .option('--threads <n>', 'zstd worker threads (output is identical for any count)', intArg)
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

/** "N%" or "N": a percentage in (0, 100]. */
function percentArg(value: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError(`"${value}" is not a percentage above 0 and at most 100 (e.g. 10%)`);
  return n;
}

/** verify's line about the recovery data beside the archive, or undefined when there is none. */
async function recoveryLine(file: string, intact: boolean): Promise<{ text: string; damaged: boolean; json: unknown } | undefined> {
  try {
    const s = await recoveryStatus(file);
    if (!s) return undefined;
    const bad = s.damagedBlocks + (s.length > s.expected ? 1 : 0);
    // Every byte proven intact by the manifest: a set that disagrees was made for another archive.
    if (bad > 0 && intact) {
      const text = `recovery data: describes another archive (this one is intact against its manifest): make a new set`;
      return { text, damaged: false, json: { ...s, stale: true, text } };
    }
    const damage = bad === 0 ? 'no damaged blocks' : `${s.damagedBlocks} damaged block${s.damagedBlocks === 1 ? '' : 's'}${s.length > s.expected ? ` and ${s.length - s.expected} bytes too many` : ''}, ${s.repairable ? 'repairable (portarc repair)' : 'NOT repairable'}`;
    const text = `recovery data: ${s.blocks} blocks of ${s.sliceSize} bytes; ${damage}; ${Math.max(0, s.blocks - s.damagedBlocks)} blocks of budget left`;
    return { text, damaged: bad > 0, json: { ...s, text } };
  } catch (err) {
    const text = `recovery data: unusable: ${err instanceof Error ? err.message : String(err)}`;
    return { text, damaged: false, json: { error: text } };
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

/**
 * Standard output and error once their reader has gone (`| head`): a listing cut short is not a
 * reason to stop the work, so nothing more is printed there and the work goes on (spec §8.4).
 */
const closed: { stdout: boolean; stderr: boolean; stdoutError?: NodeJS.ErrnoException } = { stdout: false, stderr: false };

function warn(msg: string): void {
  if (!closed.stderr) process.stderr.write(`portarc: ${msg}\n`);
}

/** A line of a listing on stdout (extract -v), dropped once the reader has closed the pipe. */
function say(line: string): void {
  if (!closed.stdout) process.stdout.write(line);
}

/** Print stdout lines without buffering the whole listing, honouring backpressure. */
async function out(text: string): Promise<void> {
  if (closed.stdout || process.stdout.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      for (const ev of ['drain', 'error', 'close']) process.stdout.off(ev, done);
      resolve();
    };
    for (const ev of ['drain', 'error', 'close']) process.stdout.once(ev, done);
  });
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  // A reader that stops early (`portarc list | head`, `extract -v | head`) closes the pipe: print
  // no more there, but never end the work early. When stdout carries the archive (`-f -`), the
  // writer sees the same error on its own listener and fails loudly (exit 2).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    closed.stdout = true;
    // EPIPE: the reader chose to stop. Anything else (ENOSPC, EIO) lost output someone wanted.
    if (err.code !== 'EPIPE') closed.stdoutError ??= err;
  });
  process.stderr.on('error', () => (closed.stderr = true));
  // A stray error outside the awaited work is still one line and exit 2, never a stack trace.
  const crash = (err: unknown) => {
    reportError(err);
    process.exit(EXIT.failure);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const program = new Command('portarc')
    .description('Portable backup archives: pax tar with every piece of Unix metadata')
    .version(versionText(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => say(s), writeErr: (s) => void (closed.stderr || process.stderr.write(s)) });

  program
    .command('create')
    .description('archive PATHs into a new archive')
    .requiredOption('-f, --file <archive>', 'archive to write ("-" for stdout)')
    .option('-C, --directory <dir>', 'change to DIR before reading the paths')
    .option('-S, --sparse', 'store files with holes as sparse entries (7-Zip cannot expand these)')
    .option('-v, --verbose', 'list entries as they are written (on stderr)')
    .option('--recovery <N%>', 'also write PAR2 recovery data ARCHIVE.par2 + ARCHIVE.vol*.par2 able to rebuild about N% of the archive (spec/recovery.md)', percentArg)
    .argument('<path...>', 'files and directories to archive');
  withWriteFlags(program.commands.at(-1)!).action(async (paths: string[], o: CompressFlags & { file: string; directory?: string; sparse?: boolean; verbose?: boolean; recovery?: number }) => {
      if (o.recovery !== undefined && o.file === '-') throw new UsageError('--recovery needs an archive file, not standard output');
      const result = await create(paths, o.file, {
        cwd: o.directory,
        sparse: o.sparse,
        ...writeOptions(o),
        onEntry: o.verbose ? (e) => void (closed.stderr || process.stderr.write(`${e.name}\n`)) : undefined,
      });
      for (const w of result.warnings) warn(`warning: ${w}`);
      if (result.warnings.length) code = EXIT.warnings;
      if (o.recovery !== undefined) {
        const r = await addRecovery(o.file, { percent: o.recovery });
        warn(`recovery data: ${r.recoverySlices} blocks of ${r.sliceSize} bytes for ${r.inputSlices} archive blocks (${o.recovery}%) in ${r.index}, ${r.volume}`);
      }
    });

  program
    .command('extract')
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
    .argument('[path...]', 'extract only these members and directories (read through the manifest when the archive is seekable)')
    .action(async (paths: string[], o: { file: string; directory: string; preserve?: boolean; samePermissions?: boolean; sameOwner?: boolean; untrusted?: boolean; numericOwner?: boolean; verbose?: boolean; strict?: boolean; absoluteNames?: boolean; fsync: boolean; limit: Partial<Limits>; manifest?: boolean; keepDamaged?: boolean }) => {
      const sys = loadSys();
      // Many small files make short-lived objects that outlive a young-generation collection or
      // two; V8's default heap growth lets that garbage reach ~80 MiB before a full collection.
      setFlagsFromString('--optimize-for-size');
      // Damage (spec §6.8) is reported after everything else was restored: the report, then exit 2.
      const result: ExtractResult = await extract(o.file, o.directory, {
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
        onEntry: o.verbose ? (e) => say(`${e.name}\n`) : undefined,
      }).catch((err: unknown) => {
        if (err instanceof ExtractDamagedError) return err.result;
        throw err;
      });
      if (closed.stdoutError) {
        warn(`warning: the listing could not be written to standard output: ${describeErrno(closed.stdoutError)}; the extraction was completed`);
        code = Math.max(code, EXIT.warnings);
      } else if (o.verbose && closed.stdout) warn('note: standard output was closed by its reader: the listing was cut, the extraction was not');
      // Notices (unknown keywords skipped by rule) are printed but leave the exit code at 0 (spec §8.1).
      for (const w of [...result.notices, ...result.warnings]) warn(`warning: ${w}`);
      for (const n of result.notes) warn(`note: ${n}`);
      for (const l of result.losses) warn(`not restored: ${l.path}: ${l.what}: ${l.reason}`);
      if (result.losses.length) {
        const byKind = new Map<string, number>();
        for (const l of result.losses) byKind.set(l.what, (byKind.get(l.what) ?? 0) + 1);
        warn(`summary: ${result.entries} entries; not restored: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}`);
        if (sys.kind === 'fallback') warn('native addon not built: metadata was restored through getfattr/setfattr');
      }
      if (result.warnings.length || result.losses.length) code = o.strict && result.losses.length ? EXIT.failure : EXIT.warnings;
      // A member missing from disk (refused, e.g. it would go through a symlink, or failed) is a failure.
      if (result.losses.some((l) => l.what === 'entry')) code = EXIT.failure;
      const archiveName = o.file === '-' ? '(stdin)' : o.file;
      for (const d of result.damaged) warn(`error: ${describeExtractDamage(d, archiveName)}`);
      if (result.damaged.length) {
        warn(`error: ${archiveName}: damaged: ${result.damaged.length} damaged place${result.damaged.length === 1 ? '' : 's'}; ${result.entries} entries extracted`);
        code = EXIT.failure;
      }
    });

  program
    .command('convert')
    .description('copy every entry of an archive into a new one: tar <-> zip, plain <-> gzip <-> zstd')
    .argument('<in>', 'archive to read ("-" for stdin)')
    .argument('<out>', 'archive to write ("-" for stdout); .zip means zip, .tar.gz gzip, .tar.zst zstd');
  withWriteFlags(program.commands.at(-1)!).action(async (input: string, output: string, o: CompressFlags) => {
      const result = await convert(input, output, writeOptions(o));
      for (const w of [...result.notices, ...result.warnings]) warn(`warning: ${w}`);
      if (result.portarcOnly.length) {
        warn(`note: ${result.to} keeps everything for portarc, but other tools will not restore: ${result.portarcOnly.join('; ')}`);
      }
      process.stderr.write(`portarc: converted ${result.entries} entries, ${result.from} -> ${result.to}\n`);
      if (result.warnings.length) code = EXIT.warnings;
    });

  program
    .command('list')
    .alias('ls')
    .description('list the entries of an archive')
    .requiredOption('-f, --file <archive>', 'archive to read ("-" for stdin)')
    .option('-v, --verbose', 'long listing: mode, owner, size, time')
    .option('--json', 'one JSON document: every entry with all its metadata')
    .option('--all', 'also list the manifest and trailer members')
    .option('--limit <name=value>', 'raise or lower a bound (entries, headerBytes, xattrs, xattrBytes)', collectLimit, {})
    .argument('[path...]', 'list only these members and directories')
    .action(async (paths: string[], o: { file: string; verbose?: boolean; json?: boolean; all?: boolean; limit: Partial<Limits> }) => {
      const listing = list(o.file, { limits: o.limit, all: o.all, paths });
      let first = true;
      if (o.json) await out('{"entries":[\n');
      let warnings = 0;
      let damage: ListDamagedError | undefined;
      const entries = (async function* () {
        try {
          yield* listing;
        } catch (err) {
          if (!(err instanceof ListDamagedError)) throw err;
          damage = err;
        }
      })();
      for await (const e of entries) {
        if (closed.stdout) break; // the reader has stopped (`| head`): so do we, quietly, as tar does
        warnings += e.warnings.length;
        if (o.json) {
          await out((first ? '' : ',\n') + JSON.stringify(entryJson(e)));
          first = false;
        } else {
          for (const w of [...e.notices, ...e.warnings]) warn(`warning: ${e.name}: ${w}`);
          await out((o.verbose ? lsLine(e) : e.name) + '\n');
        }
      }
      const info = listing.info;
      if (o.json) {
        await out(`\n],"info":${JSON.stringify({ version: info.version ?? null, creator: info.creator ?? null, features: info.features, readOnly: info.readOnly, warnings: info.warnings, notices: info.notices })}}\n`);
      }
      for (const w of [...info.notices, ...info.warnings]) warn(`warning: ${w}`);
      if (warnings || info.warnings.length) code = EXIT.warnings;
      const archiveName = o.file === '-' ? '(stdin)' : o.file;
      for (const d of damage?.damaged ?? []) warn(`error: ${archiveName}, bytes ${d.range[0]}-${d.range[1]}: header${d.path === undefined ? '' : ` of "${d.path}"?`}: ${d.what}`);
      if (damage) code = EXIT.failure;
      // The listing is the work here: one that could not be written is a failure.
      if (closed.stdoutError) throw ioError(closed.stdoutError, 'cannot write the listing', '(stdout)');
    });

  program
    .command('verify')
    .description('check an archive against its manifest and its own checksums; nothing is written (exit 0 clean, 2 damaged)')
    .requiredOption('-f, --file <archive>', 'archive to read ("-" for stdin)')
    .option('--json', 'one JSON document: every damaged place, what was checked')
    .option('--limit <name=value>', 'raise or lower a bound (entries, headerBytes, xattrs, xattrBytes)', collectLimit, {})
    .action(async (o: { file: string; json?: boolean; limit: Partial<Limits> }) => {
      const r = await verify(o.file, { limits: o.limit });
      const name = o.file === '-' ? '(stdin)' : o.file;
      // The sidecar recovery set, if there is one (spec/recovery.md §7): additive, and damage its
      // block checksums find is damage, whatever the manifest said.
      const rec = o.file === '-' ? undefined : await recoveryLine(o.file, r.ok && r.method === 'ranges');
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

  program
    .command('repair')
    .description('rebuild a damaged archive from its PAR2 recovery data (ARCHIVE.par2): byte-identical, to a new file (exit 0 repaired, 2 not repairable)')
    .requiredOption('-f, --file <archive>', 'the damaged archive')
    .option('-o, --output <file>', 'write the repaired archive here (default: ARCHIVE.repaired)')
    .option('--in-place', 'replace the archive itself (through a temporary file and a rename: crash-safe)')
    .action(async (o: { file: string; output?: string; inPlace?: boolean }) => {
      const r = await repair(o.file, { output: o.output, inPlace: o.inPlace });
      const where = r.damagedRanges.map(([a, b]) => `${a}-${b}`).join(', ');
      if (r.repairedBlocks === 0 && r.length === r.expected) {
        await out(`${o.file}: no damage found (${r.blocks} recovery blocks)${r.output === o.file ? '' : `; copied to ${r.output}`}\n`);
      } else {
        const cut = r.length > r.expected ? `; removed ${r.length - r.expected} bytes past the archive's end` : '';
        await out(`${o.file}: repaired ${r.repairedBlocks} damaged block${r.repairedBlocks === 1 ? '' : 's'} of ${r.sliceSize} bytes (bytes ${where}) with ${r.repairedBlocks} of ${r.blocks} recovery blocks${cut} -> ${r.output}\n`);
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.failure;
    reportError(err);
    return EXIT.failure;
  }
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
