// repair() and the recovery data around it: write a PAR2 sidecar set for an archive, say whether
// an archive's damage is within its budget, and rebuild a damaged archive byte for byte.
// Spec: spec/recovery.md (the sidecar set; §6 repair, §7 verify's line).

import { copyFile, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DamagedError, UsageError, ioError } from '../model/errors.js';
import { loadRecoverySet, type RecoverySet } from '../integrity/par2/reader.js';
import { checkSlices, rebuild, type SliceCheck } from '../integrity/par2/repair.js';
import { MEMORY_BUDGET, writeRecovery, type RecoveryWritten } from '../integrity/par2/writer.js';
import { VERSION } from './version.js';
import { verify } from './verify.js';
import { abortedOr, checkSignal, guardedHandle, throwIfAborted } from '../model/abort.js';

export type { RecoveryWritten } from '../integrity/par2/writer.js';

/** Write ARCHIVE.par2 and ARCHIVE.volA+B.par2 able to rebuild about `percent`% of the archive. */
export async function addRecovery(archive: string, options: { percent: number }): Promise<RecoveryWritten> {
  if (archive === '-') throw new UsageError('--recovery needs an archive file, not standard output');
  return writeRecovery(archive, options.percent, `Created by portarc ${VERSION}`);
}

export interface RecoveryStatus {
  /** The parity files found beside the archive. */
  files: string[];
  sliceSize: number;
  /** Intact recovery blocks (slices) in the set. */
  blocks: number;
  /** Blocks of the archive that do not match their checksums. */
  damagedBlocks: number;
  /** Byte ranges [start, end) of the damaged blocks, adjacent ones merged. */
  damagedRanges: [number, number][];
  repairable: boolean;
  /** The archive's length and the length the set describes (they differ when it was cut or grew). */
  length: number;
  expected: number;
}

function ranges(check: SliceCheck, sliceSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (const j of check.damaged) {
    const r: [number, number] = [j * sliceSize, Math.min((j + 1) * sliceSize, check.expected)];
    const last = out.at(-1);
    if (last && last[1] === r[0]) last[1] = r[1];
    else out.push(r);
  }
  if (check.length > check.expected) out.push([check.expected, check.length]);
  return out;
}

function status(set: RecoverySet, check: SliceCheck): RecoveryStatus {
  return {
    files: set.files,
    sliceSize: set.sliceSize,
    blocks: set.recovery.length,
    damagedBlocks: check.damaged.length,
    damagedRanges: ranges(check, set.sliceSize),
    repairable: check.damaged.length <= set.recovery.length,
    length: check.length,
    expected: check.expected,
  };
}

/**
 * True when the manifest proves every byte of the archive intact (a plain tar or zip checked by
 * its trailer's ranges, spec/manifest.md §8). Then a recovery set that disagrees is stale (made
 * for an earlier archive of the same name): "repairing" with it would bring back the old archive.
 */
export async function intactByManifest(archive: string): Promise<boolean> {
  try {
    const v = await verify(archive);
    return v.ok && v.method === 'ranges';
  } catch {
    return false;
  }
}

/** The recovery data's view of an archive, or undefined when it has no parity files. */
export async function recoveryStatus(archive: string): Promise<RecoveryStatus | undefined> {
  const set = await loadRecoverySet(archive);
  if (!set) return undefined;
  const fh = await open(archive, 'r').catch((e) => {
    throw ioError(e, 'cannot open the archive', archive);
  });
  try {
    return status(set, await checkSlices(fh, set));
  } finally {
    await fh.close();
  }
}

export interface RepairOptions {
  /** Where to write the repaired archive (a new file). Default: ARCHIVE.repaired. */
  output?: string;
  /** Replace the archive itself (through a temporary file and a rename: crash-safe). */
  inPlace?: boolean;
  /** Bytes of rebuilt blocks held in memory at once. */
  memoryBudget?: number;
  /** Cancel before the next read of the archive: nothing is written (the temporary file is removed); AbortError. */
  signal?: AbortSignal;
}

export interface RepairResult extends RecoveryStatus {
  /** Where the repaired archive is (the archive itself with inPlace, or when nothing was damaged and no output was asked). */
  output: string;
  /** Blocks rebuilt. */
  repairedBlocks: number;
}

/**
 * Rebuild a damaged archive from its recovery set. Writes the result byte-identical to the
 * archive the set was made for, or throws DamagedError (nothing written) when the damage is
 * beyond the budget; UsageError when there is no recovery data.
 */
export async function repair(archive: string, options: RepairOptions = {}): Promise<RepairResult> {
  const signal = checkSignal(options.signal);
  if (archive === '-') throw new UsageError('repair needs an archive file, not standard input');
  if (options.inPlace && options.output) throw new UsageError('choose one of -o and --in-place');
  const set = await loadRecoverySet(archive).catch((e) => {
    throw ioError(e, 'cannot read the recovery data', archive);
  });
  if (!set) throw new UsageError(`${archive}: no recovery data (${basename(archive)}.par2) beside it: nothing to repair with`);
  const fh = guardedHandle(
    await open(archive, 'r').catch((e) => {
      throw ioError(e, 'cannot open the archive', archive);
    }),
    signal,
  );
  let tmp: string | undefined;
  try {
    const check = await checkSlices(fh, set);
    const st = status(set, check);
    const where = st.damagedRanges.map(([a, b]) => `${a}-${b}`).join(', ');
    if (!st.repairable) {
      throw new DamagedError(`${st.damagedBlocks} damaged blocks of ${set.sliceSize} bytes (bytes ${where}), only ${st.blocks} recovery blocks: not repairable; nothing was written`, { archive });
    }
    if (st.damagedBlocks > 0 && (await intactByManifest(archive))) {
      throw new UsageError(`the recovery data ${basename(archive)}.par2 describes another archive (this one is intact: every byte checked against its manifest): nothing was done; make a new set (create --recovery, par2 create)`, { archive });
    }
    const target = options.inPlace ? archive : (options.output ?? `${archive}.repaired`);
    if (st.damagedBlocks === 0 && check.length === check.expected) {
      // Nothing to do; a copy only when one was asked for by name.
      if (options.output === undefined || options.inPlace) return { ...st, output: archive, repairedBlocks: 0 };
      await copyFile(archive, target).catch((e) => {
        throw ioError(e, 'cannot write the repaired archive', target);
      });
      return { ...st, output: target, repairedBlocks: 0 };
    }
    if (!options.inPlace && target !== archive) {
      // Never overwrite the damaged original by accident through -o.
      const same = await stat(target).then((t) => t, () => undefined);
      const src = await fh.stat();
      if (same && same.ino === src.ino && same.dev === src.dev) throw new UsageError(`-o ${target} is the archive itself: use --in-place`);
    }
    tmp = `${target}.repair-${process.pid}`;
    const out = await open(tmp, 'w').catch((e) => {
      throw ioError(e, 'cannot write the repaired archive', tmp);
    });
    let ok: boolean;
    try {
      if (options.inPlace) {
        // The repaired archive replaces the old one: same mode and owner.
        const src = await fh.stat();
        await out.chmod(src.mode & 0o7777);
        await out.chown(src.uid, src.gid).catch(() => undefined); // not ours to give away as a user
      }
      await out.truncate(check.expected);
      ok = await rebuild(fh, set, check, out, options.memoryBudget ?? MEMORY_BUDGET);
      if (ok) await out.sync();
    } catch (err) {
      if (signal?.aborted) throw abortedOr(signal, err);
      throw ioError(err, 'cannot write the repaired archive', tmp);
    } finally {
      await out.close();
    }
    throwIfAborted(signal);
    if (!ok) throw new DamagedError(`the recovery data could not rebuild the ${st.damagedBlocks} damaged blocks (bytes ${where}): not repairable; nothing was written`, { archive });
    await rename(tmp, target);
    tmp = undefined;
    await syncDir(dirname(target));
    return { ...st, output: target, repairedBlocks: st.damagedBlocks };
  } finally {
    await fh.close();
    if (tmp) await rm(tmp, { force: true });
  }
}

/** Make a rename durable: fsync the directory that holds the name (best effort where unsupported). */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  try {
    await d.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    await d.close();
  }
}
