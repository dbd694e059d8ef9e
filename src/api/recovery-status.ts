// The recovery data's view of an archive: how many blocks are damaged, whether that is within the
// budget, and (embedded data) what of the region itself is damaged. Shared by verify() and
// repair(). Spec: spec/recovery.md §7 (verify's line) and §10 (embedded data).

import type { FileHandle } from 'node:fs/promises';
import { UnsupportedFeatureError } from '../model/errors.js';
import type { RecoverySet } from '../integrity/par2/reader.js';
import { checkSlices, type SliceCheck } from '../integrity/par2/repair.js';
import { EMBEDDED_VERSION, findEmbedded, readAtOf, sliceView, type EmbeddedRegion } from '../integrity/par2/embedded.js';
import { inspectRegion, type RegionCheck, type RegionDamage } from '../integrity/par2/embedded-check.js';

export type { RegionDamage } from '../integrity/par2/embedded-check.js';

export interface RecoveryStatus {
  /** The parity files found beside the archive, or the archive itself for embedded data. */
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
  /** The recovery data is inside the archive file, after the archive (spec/recovery.md §10). */
  embedded?: boolean;
  /** Embedded data: places in the recovery region or the end records after it that are damaged (repair writes them again). */
  regionDamage?: RegionDamage[];
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

export function status(set: RecoverySet, check: SliceCheck): RecoveryStatus {
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

export interface EmbeddedState {
  region: EmbeddedRegion;
  /** The region checked (version 1 only). */
  check?: RegionCheck;
  /** The archive's slices checked against the set, when the set can be used. */
  slices?: SliceCheck;
  status?: RecoveryStatus;
}

/** The archive's embedded recovery region, or undefined when it has none. */
export async function findRegion(fh: FileHandle, size: number): Promise<EmbeddedRegion | undefined> {
  return findEmbedded(readAtOf(fh), size, { thorough: true });
}

/**
 * Check an archive's embedded recovery data: the region, then the archive's slices against the
 * set. A region of a later layout version is found (the archive's length is known) but not used.
 */
export async function embeddedState(fh: FileHandle, region: EmbeddedRegion, archive: string): Promise<EmbeddedState> {
  if (region.version !== EMBEDDED_VERSION) return { region };
  const check = await inspectRegion(fh, region, archive);
  if (!check.set) return { region, check };
  const slices = await checkSlices(sliceView(fh, 0, region.archiveLength), check.set);
  const st = { ...status(check.set, slices), files: [archive], embedded: true, regionDamage: check.damaged };
  return { region, check, slices, status: st };
}

/** The error for embedded data whose layout is newer than this reader's. */
export function newerLayout(region: EmbeddedRegion, archive: string): UnsupportedFeatureError {
  return new UnsupportedFeatureError(`its embedded recovery data has layout version ${region.version}; this portarc reads version ${EMBEDDED_VERSION}: upgrade portarc to use it (the archive itself is readable)`, { path: archive });
}
