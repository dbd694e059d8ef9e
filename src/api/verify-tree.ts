// verifyTree(): did my restore work? Read the archive once and compare every entry with the tree
// under a directory — existence and type, content, size, mode, owners, times, link targets,
// hardlinks, devices, xattrs, SELinux label, ACLs — and list what is on disk but not in the archive.
// Nothing is written. Spec: spec/manifest.md §8.4 (`verify -C`).
//
// Content: a seekable plain tar or zip file with an intact manifest gives each file's SHA-256, and
// the archive's bodies are not read at all; otherwise each body is hashed as it streams past. The
// file on disk is hashed either way.

import { stat } from 'node:fs/promises';
import { ArchiveError, IoError, PortarcError } from '../model/errors.js';
import type { Limits } from '../model/limits.js';
import { sourceName, type ArchiveSource } from '../io/source.js';
import { digestBody } from '../integrity/content.js';
import { openExpected, type ExpectedDigests } from '../integrity/expected.js';
import { isManifestMember } from '../manifest/types.js';
import { TreeComparer, type CompareOptions, type TreeDifference } from '../fs/compare.js';
import { openArchive, type OpenArchive } from './open.js';
import { selector } from './random.js';

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
  let archive: OpenArchive | undefined;
  let expected: ExpectedDigests | undefined;
  try {
    archive = await openArchive(source, { limits: options.limits });
    if (typeof source === 'string' && source !== '-') {
      const got = await openExpected(source).catch(() => ({ expected: undefined, why: undefined }));
      expected = got.expected;
      if (got.why) notes.push(`the manifest is not used (${got.why}): contents compared with the archive's bodies`);
    }
    const sel = options.paths?.length ? selector(options.paths) : undefined;
    for await (const { entry, body, offset } of archive.members) {
      const manifestMember = isManifestMember(entry.path, archive.info.features.compat);
      if (!manifestMember && sel && !sel.select(entry.path)) continue;
      let sha256: string | undefined;
      if (entry.type === 'file') {
        const listed = expected && !manifestMember ? await expected.at(offset) : undefined;
        if (listed?.sha256 !== undefined && listed.path.equals(entry.path)) {
          sha256 = listed.sha256;
          content.manifest++;
        } else {
          const d = digestBody(entry, body);
          for await (const _ of d.body ?? []) void _;
          sha256 = d.digest();
          if (!manifestMember) content.archive++;
        }
      }
      // The manifest and trailer are on disk only when asked for (extract --manifest, other tools).
      await comparer.add(entry, sha256, manifestMember);
    }
    sel?.checkAllMatched();
    await comparer.finish();
  } catch (err) {
    if (err instanceof PortarcError) throw err instanceof ArchiveError ? err.withArchive(name) : err;
    throw err;
  } finally {
    await expected?.close();
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
  };
}
