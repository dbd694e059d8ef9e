// verifyTree(): did my restore work? Read the archive once and compare every entry with the tree
// under a directory — existence and type, content, size, mode, owners, times, link targets,
// hardlinks, devices, xattrs, SELinux label, ACLs — and list what is on disk but not in the archive.
// Nothing is written. Spec: spec/manifest.md §8.4 (`verify -C`).
//
// Content: a seekable plain tar or zip file with an intact manifest gives each file's SHA-256, and
// the archive's bodies are not read at all; otherwise each body is hashed as it streams past. The
// file on disk is hashed either way.

import { stat } from 'node:fs/promises';
import { ArchiveError, DamagedError, IoError, PortarcError } from '../model/errors.js';
import { ContentCheck, type ContentDamage } from './content-check.js';
import { headerMismatch } from '../integrity/restored.js';
import type { Limits } from '../model/limits.js';
import { sourceName, type ArchiveSource } from '../io/source.js';
import { digestBody } from '../integrity/content.js';
import { openExpected, type ExpectedDigests } from '../integrity/expected.js';
import { declaresManifest, isManifestMember } from '../manifest/types.js';
import { displayName, type Entry } from '../model/entry.js';
import { TreeComparer, type CompareOptions, type TreeDifference } from '../fs/compare.js';
import { openArchive, type OpenArchive } from './open.js';
import { canBeLinked, pathKey, selector } from './random.js';

export { describeDifference, type TreeDifference, type TreeProperty } from '../fs/compare.js';

/**
 * What the restore being checked was asked to do (the same options as extract's: sameOwner,
 * samePermissions, untrusted, numericOwner, preserve, absoluteNames), and what to compare.
 */
export interface VerifyTreeOptions extends Omit<CompareOptions, 'sys'> {
  /** Compare only these members and what lies under these directories (as extract's `paths`). */
  paths?: string[];
  limits?: Partial<Limits>;
}

export interface VerifyTreeResult {
  /** The tree is what a restore of the archive makes. */
  ok: boolean;
  directory: string;
  /** Entries compared (the manifest members not counted unless on disk). */
  entries: number;
  differences: TreeDifference[];
  /** Files whose expected content came from the manifest, and from hashing the archive's body. */
  content: { manifest: number; archive: number };
  /** What was not compared, and why. */
  notes: string[];
  /**
   * What the reading of the archive warned of, as extract warns (the CLI exits 1): metadata the
   * archive holds that a restore cannot apply (so the tree cannot match it), a member not in the
   * manifest (appended after it: nothing checked its content), an archive cut short.
   */
  warnings: string[];
}

/**
 * The selected hardlinks whose target was not selected, compared as extract makes them: the first
 * link of each target as a copy of it (a file's content, a symlink, a fifo or a device), the
 * others as links to that first one. The targets are read in a second pass over the archive.
 */
async function compareCopies(source: ArchiveSource, passed: Map<string, Entry[]>, comparer: TreeComparer, options: VerifyTreeOptions, warnings: string[]): Promise<void> {
  if (typeof source !== 'string' || source === '-') {
    for (const [, links] of passed) for (const l of links) warnings.push(`${l.name}: not compared: hardlink to "${displayName(l.linkTarget!)}", which was not selected, and the input cannot be read twice`);
    return;
  }
  const again = await openArchive(source, { limits: options.limits });
  try {
    for await (const m of again.members) {
      const links = canBeLinked(m.entry) ? passed.get(pathKey(m.entry.path)) : undefined;
      if (!links) continue;
      passed.delete(pathKey(m.entry.path));
      const [first, ...rest] = links as [Entry, ...Entry[]];
      let sha256: string | undefined;
      if (m.entry.type === 'file') {
        const d = digestBody(m.entry, m.body);
        for await (const _ of d.body ?? []) void _;
        sha256 = d.digest();
      }
      await comparer.add({ ...m.entry, path: first.path, name: first.name }, sha256);
      for (const l of rest) await comparer.add({ ...l, linkTarget: first.path });
      if (!passed.size) break;
    }
  } finally {
    await again.close();
  }
  // A target the archive does not hold (the selection only said it was not picked): compared as
  // the links they are, which names the target missing.
  for (const [, links] of passed) for (const l of links) await comparer.add(l);
}

export async function verifyTree(source: ArchiveSource, directory: string, options: VerifyTreeOptions = {}): Promise<VerifyTreeResult> {
  const st = await stat(directory).catch((err: NodeJS.ErrnoException) => {
    throw new IoError(`cannot compare with this directory: ${err.code === 'ENOENT' ? 'no such directory' : err.message}`, { path: directory, errno: err.code, cause: err });
  });
  if (!st.isDirectory()) throw new IoError('not a directory: name the directory the archive was restored into (-C DIR)', { path: directory, errno: 'ENOTDIR' });
  const comparer = new TreeComparer(directory, options);
  const name = sourceName(source);
  const content = { manifest: 0, archive: 0 };
  const notes: string[] = [];
  const warnings: string[] = [];
  let archive: OpenArchive | undefined;
  let expected: ExpectedDigests | undefined;
  let check: ContentCheck | undefined;
  try {
    archive = await openArchive(source, { limits: options.limits, headerDigests: declaresManifest });
    if (typeof source === 'string' && source !== '-') {
      const got = await openExpected(source).catch(() => ({ expected: undefined, why: undefined }));
      expected = got.expected;
      if (got.why) notes.push(`the manifest is not used (${got.why}): contents compared with the archive's bodies`);
    }
    // The tree is compared with what the archive's headers and bodies say: those must be what the
    // manifest says, or a restore of damaged bytes would compare clean. From a file, each header
    // range is held against the manifest as it passes; from a stream, headers and bodies are
    // logged and held against it when it arrives (as extract does, spec/manifest.md §11).
    if (!expected) {
      check = await ContentCheck.open(source, false, archive.format);
      check.nothingOnDisk = true;
    }
    const fail = (d: ContentDamage | undefined) => {
      if (d) throw new DamagedError(`${d.what}: the archive is damaged, and a restore cannot be judged against it (run portarc verify)`, { archive: name, entry: d.path, offset: d.range?.[0] });
    };
    if (expected?.centralDamage) fail(expected.centralDamage);
    const sel = options.paths?.length ? selector(options.paths) : undefined;
    // Selected hardlinks whose target was not selected, by target: extract gives the first a copy
    // of the target, and links the others to it (spec/manifest.md §12.4); compared so, below.
    // A file is read again for the targets, and the selection says which were passed over (as
    // extract asks it); a stream cannot be, so the names passed over are remembered to say so.
    const rereadable = typeof source === 'string' && source !== '-';
    const unselected = rereadable ? undefined : new Set<string>();
    const passedOver = (target: Buffer) => (unselected ? unselected.has(pathKey(target)) : !sel!.selects(target));
    const passed = new Map<string, Entry[]>();
    let lastOffset: number | undefined;
    for await (const { entry, body: stored, offset, headerSha256 } of archive.members) {
      lastOffset = offset;
      const manifestMember = isManifestMember(entry.path, archive.info.features.compat);
      let body = stored;
      if (manifestMember && check) {
        const d = digestBody(entry, body);
        await check.manifestMember(entry, d.body as AsyncIterable<Buffer>, undefined, false, archive.skipped);
        for await (const _ of (d.body as AsyncIterable<Buffer>) ?? []) void _;
        fail(check.damaged[0] ?? check.lost[0]);
        await comparer.add(entry, entry.type === 'file' ? d.digest() : undefined, true);
        continue;
      }
      if (!manifestMember && sel && !sel.select(entry.path)) {
        comparer.countLink(entry);
        if (unselected && canBeLinked(entry)) unselected.add(pathKey(entry.path));
        continue;
      }
      if (sel && entry.type === 'hardlink' && entry.linkTarget && passedOver(entry.linkTarget)) {
        const target = pathKey(entry.linkTarget);
        passed.set(target, [...(passed.get(target) ?? []), entry]);
        continue;
      }
      warnings.push(...entry.warnings.map((w) => `${entry.name}: ${w}`));
      let after: (() => void) | undefined;
      if (check && !manifestMember) {
        const plan = await check.plan(entry, body, offset, archive.info, headerSha256);
        fail(plan.refused);
        body = plan.body;
        after = () => plan.check.written?.(Buffer.alloc(0), 0);
      }
      let sha256: string | undefined;
      const listed = expected && !manifestMember && (entry.type === 'file' || headerSha256 !== undefined) ? await expected.at(offset) : undefined;
      if (listed && headerSha256 !== undefined && listed.path.equals(entry.path) && listed.headerSha256 !== headerSha256) {
        fail({ path: entry.name, what: headerMismatch(headerSha256, listed.headerSha256), range: [listed.offset, listed.data] });
      }
      // Not where the manifest lists a member (appended after it, say): restore warns, and so does this.
      if (expected && !manifestMember && entry.type === 'file' && !listed) warnings.push(`${entry.name}: not in the manifest (no entry at offset ${offset}); its content was compared with the archive's body, which nothing checks`);
      if (entry.type === 'file') {
        if (listed?.sha256 !== undefined && listed.path.equals(entry.path)) {
          sha256 = listed.sha256;
          content.manifest++;
        } else {
          const d = digestBody(entry, body);
          for await (const _ of d.body ?? []) void _;
          sha256 = d.digest();
          if (!manifestMember) content.archive++;
        }
      } else if (after) for await (const _ of body) void _;
      after?.();
      // The manifest and trailer are on disk only when asked for (extract --manifest, other tools).
      await comparer.add(entry, sha256, manifestMember);
    }
    sel?.checkAllMatched();
    if (passed.size) await compareCopies(source, passed, comparer, options, warnings);
    // The manifest lists members after the last one read: the archive's end came early.
    if (expected && !expected.problem && lastOffset !== undefined) {
      for await (const e of expected.after(lastOffset)) {
        fail({ path: displayName(e.path), what: `the manifest lists it at offset ${e.offset}, after the end of the archive as read`, range: [e.offset, e.end] });
      }
    }
    if (check) {
      await check.finish('', undefined, false, archive.skipped, lastOffset, declaresManifest(archive.info));
      fail(check.damaged[0] ?? check.lost[0]);
      for (const w of check.warnings) notes.push(w);
    }
    warnings.unshift(...archive.info.warnings);
    await comparer.finish();
  } catch (err) {
    if (err instanceof PortarcError) throw err instanceof ArchiveError ? err.withArchive(name) : err;
    throw err;
  } finally {
    await expected?.close();
    await check?.close();
    await archive?.close();
  }
  if (expected?.problem) notes.push(`the manifest stopped being usable (${expected.problem}): later contents compared with the archive's bodies`);
  return {
    ok: comparer.differences.length === 0,
    directory,
    entries: comparer.compared,
    differences: comparer.differences,
    content,
    notes: [...notes, ...comparer.notes],
    warnings,
  };
}
