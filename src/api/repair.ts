// repair() and the recovery data around it: write a PAR2 set for an archive (a sidecar, or
// embedded after the archive in its own file), say whether an archive's damage is within its
// budget, and rebuild a damaged archive byte for byte.
// Spec: spec/recovery.md (§6 repair, §7 verify's line, §10 embedded data).

import { copyFile, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DamagedError, UsageError, ioError } from '../model/errors.js';
import { loadRecoverySet, type RecoverySet } from '../integrity/par2/reader.js';
import type { PositionalFile } from '../integrity/par2/slices.js';
import { checkSlices, rebuild, type SliceCheck } from '../integrity/par2/repair.js';
import { embedInto, MEMORY_BUDGET, writeRecovery, type EmbeddedWritten, type RecoveryWritten } from '../integrity/par2/writer.js';
import { sliceView } from '../integrity/par2/embedded.js';
import { VERSION } from './version.js';
import { verify } from './verify.js';
import { abortedOr, checkSignal, guardedHandle, throwIfAborted } from '../model/abort.js';
import { embeddedState, findRegion, newerLayout, status, type RecoveryStatus } from './recovery-status.js';

export type { RecoveryWritten, EmbeddedWritten } from '../integrity/par2/writer.js';
export type { RecoveryStatus, RegionDamage } from './recovery-status.js';

const CREATOR = `Created by portarc ${VERSION}`;

/** Write ARCHIVE.par2 and ARCHIVE.volA+B.par2 able to rebuild about `percent`% of the archive. */
export async function addRecovery(archive: string, options: { percent: number }): Promise<RecoveryWritten> {
  if (archive === '-') throw new UsageError('--recovery needs an archive file, not standard output');
  return writeRecovery(archive, options.percent, CREATOR);
}

/**
 * Embed recovery data able to rebuild about `percent`% of the archive in the archive file itself,
 * after the archive (spec/recovery.md §10): other tools read the archive as before. Recovery data
 * already embedded is replaced. The archive is rewritten through a temporary file and a rename.
 */
export async function embedRecovery(archive: string, options: { percent: number }): Promise<EmbeddedWritten> {
  if (archive === '-') throw new UsageError('--recovery needs an archive file, not standard output');
  const src = await open(archive, 'r').catch((e) => {
    throw ioError(e, 'cannot open the archive', archive);
  });
  const tmp = `${archive}.embed-${process.pid}`;
  try {
    const size = (await src.stat()).size;
    const region = await findRegion(src, size);
    const length = region?.archiveLength ?? size;
    const out = await open(tmp, 'w+').catch((e) => {
      throw ioError(e, 'cannot write the archive', tmp);
    });
    try {
      await out.chmod((await src.stat()).mode & 0o7777);
      await copyRange(src, out, length);
      const r = await embedInto(out, length, `${archive}.par2-${process.pid}`, { percent: options.percent, name: basename(archive), creator: CREATOR });
      await out.sync();
      await out.close().catch(() => undefined);
      await rename(tmp, archive);
      await syncDir(dirname(archive));
      return r;
    } finally {
      await out.close().catch(() => undefined);
    }
  } finally {
    await src.close();
    await rm(tmp, { force: true });
  }
}

/** Copy bytes [from, to) of `src` (from 0 when one bound is given) to `out` at the same offsets. */
async function copyRange(src: FileHandle, out: FileHandle, ...bounds: [number] | [number, number]): Promise<void> {
  const [from, length] = bounds.length === 1 ? [0, bounds[0]] : bounds;
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let at = from; at < length; ) {
    const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, length - at), at);
    if (bytesRead === 0) throw new DamagedError(`the archive ended at ${at} bytes, ${length} expected`, { offset: at });
    let done = 0;
    while (done < bytesRead) done += (await out.write(buf, done, bytesRead - done, at + done)).bytesWritten;
    at += bytesRead;
  }
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

/**
 * The recovery data's view of an archive: its embedded data (spec §10), else the sidecar set
 * beside it; undefined when it has neither. Throws DamagedError when the data cannot be used,
 * UnsupportedFeatureError for embedded data of a later layout.
 */
export async function recoveryStatus(archive: string): Promise<RecoveryStatus | undefined> {
  const fh = await open(archive, 'r').catch((e) => {
    throw ioError(e, 'cannot open the archive', archive);
  });
  try {
    const region = await findRegion(fh, (await fh.stat()).size);
    if (region) {
      const e = await embeddedState(fh, region, archive);
      if (!e.check) throw newerLayout(region, archive);
      if (!e.status) throw new DamagedError(`${e.check.problem ?? 'the embedded recovery data cannot be used'}`, { path: archive });
      return e.status;
    }
    const set = await loadRecoverySet(archive);
    if (!set) return undefined;
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
  /** Embedded data: the recovery region and the end records after it were written again. */
  regionRewritten: boolean;
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
  const fh = guardedHandle(
    await open(archive, 'r').catch((e) => {
      throw ioError(e, 'cannot open the archive', archive);
    }),
    signal,
  );
  let tmp: string | undefined;
  try {
    // Embedded recovery data first (spec §10), else the sidecar set.
    const region = await findRegion(fh, (await fh.stat()).size);
    let set: RecoverySet;
    let check: SliceCheck;
    let st: RecoveryStatus;
    let input: PositionalFile = fh;
    let again: Parameters<typeof embedInto>[3] | undefined;
    let regionDamage = 0;
    if (region) {
      const e = await embeddedState(fh, region, archive);
      if (!e.check) throw newerLayout(region, archive);
      if (!e.status || !e.slices) throw new DamagedError(`the embedded recovery data cannot be used (${e.check.problem ?? 'damaged'}); nothing was written`, { archive });
      set = e.check.set!;
      [check, st] = [e.slices, e.status];
      input = sliceView(fh, 0, region.archiveLength);
      regionDamage = e.check.damaged.length;
      // The same region again after the repaired archive: same slices, blocks, name and creator.
      // Its number of blocks must be known to write it again byte for byte (a guess wrote another region, exit 0).
      if (e.check.recoveryCount <= 0) {
        throw new DamagedError('the embedded recovery data cannot be rebuilt byte for byte: both its locators are damaged and the file is not the length of any region (bytes appended or cut), so its number of blocks is not known; nothing was written', { archive });
      }
      const blocks = e.check.recoveryCount;
      again = { sliceSize: set.sliceSize, recovery: blocks, name: set.desc.name, creator: set.creator ?? CREATOR };
    } else {
      const found = await loadRecoverySet(archive).catch((e) => {
        throw ioError(e, 'cannot read the recovery data', archive);
      });
      if (!found) throw new UsageError(`${archive}: no recovery data (${basename(archive)}.par2 beside it, or embedded): nothing to repair with`);
      set = found;
      check = await checkSlices(fh, set);
      st = status(set, check);
    }
    const where = st.damagedRanges.map(([a, b]) => `${a}-${b}`).join(', ');
    if (!st.repairable) {
      throw new DamagedError(`${st.damagedBlocks} damaged blocks of ${set.sliceSize} bytes (bytes ${where}), only ${st.blocks} recovery blocks: not repairable; nothing was written`, { archive });
    }
    if (!region && st.damagedBlocks > 0 && (await intactByManifest(archive))) {
      throw new UsageError(`the recovery data ${basename(archive)}.par2 describes another archive (this one is intact: every byte checked against its manifest): nothing was done; make a new set (create --recovery, par2 create)`, { archive });
    }
    const target = options.inPlace ? archive : (options.output ?? `${archive}.repaired`);
    if (!options.inPlace) {
      // Never overwrite the damaged original by accident through -o (by its own name too: the
      // original was replaced, and its mode widened to the umask's).
      const same = await stat(target).then((t) => t, () => undefined);
      const src = await fh.stat();
      if (same && same.ino === src.ino && same.dev === src.dev) throw new UsageError(`-o ${target} is the archive itself: use --in-place`);
    }
    if (st.damagedBlocks === 0 && check.length === check.expected && regionDamage === 0) {
      // Nothing to do; a copy only when one was asked for by name.
      if (options.output === undefined || options.inPlace) return { ...st, output: archive, repairedBlocks: 0, regionRewritten: false };
      await copyFile(archive, target).catch((e) => {
        throw ioError(e, 'cannot write the repaired archive', target);
      });
      return { ...st, output: target, repairedBlocks: 0, regionRewritten: false };
    }
    tmp = `${target}.repair-${process.pid}`;
    const out = await open(tmp, again ? 'w+' : 'w').catch((e) => {
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
      ok = await rebuild(input, set, check, out, options.memoryBudget ?? MEMORY_BUDGET);
      // Embedded data: the region and the end records after the repaired archive, as written.
      // Embedded data: an intact region and tail are the bytes a new one would have (they depend
      // on the repaired archive only): copied. A damaged one is made again from the archive.
      if (ok && again && regionDamage === 0) await copyRange(fh, out, check.expected, (await fh.stat()).size);
      else if (ok && again) await embedInto(out, check.expected, `${tmp}.par2`, again);
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
    return { ...st, output: target, repairedBlocks: st.damagedBlocks, regionRewritten: again !== undefined && regionDamage > 0 };
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
