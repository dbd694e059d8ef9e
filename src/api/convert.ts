// convert(): copy every entry of one archive into a new one of another container or compression
// (tar ↔ zip, plain ↔ gzip ↔ zstd), streaming, and report what the target cannot carry.
// Spec: spec/zip-profile.md (what a zip holds; §4.2 hardlink copies), spec/portarc-1.md §5.

import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Entry } from '../model/entry.js';
import type { ArchiveSource } from '../io/source.js';
import { openWriter, writeEntries, type CreateOptions, type CreateResult } from './create.js';
import { sized } from './unknown-size.js';
import { openArchive } from './open.js';
import { declaresManifest, isManifestMember } from '../manifest/types.js';
import { DamagedError } from '../model/errors.js';
import { ContentCheck, type ContentDamage, type Planned } from './content-check.js';
import { abortable, abortedOr, checkSignal } from '../model/abort.js';

export interface ConvertResult extends CreateResult {
  from: 'tar' | 'zip';
  to: 'tar' | 'zip';
  /** What other tools will not restore from the target, by kind, with entry counts. */
  portarcOnly: string[];
}

/** What convert() takes: the writer options of create(), and a signal. */
export type ConvertOptions = Pick<CreateOptions, 'format' | 'compression' | 'level' | 'threads' | 'frameSize' | 'zipMethod' | 'zipHardlinks' | 'onEntry' | 'manifest' | 'signal'>;

export async function convert(source: ArchiveSource, dest: string | Writable, options: ConvertOptions = {}): Promise<ConvertResult> {
  const signal = checkSignal(options.signal);
  const opened = await openWriter(dest, options);
  // A zip hardlink carries a copy of its target's content (zip-profile §4.2). Neither a tar nor
  // portarc's zip reader hands that content out with the link, and a stream does not say in advance
  // which member a later link will name: from a file, a first pass lists the link targets, and the
  // second spools just those to a temporary directory. From a stream, links stay link-only.
  const copies = opened.format === 'zip' && (options.zipHardlinks ?? 'copy') === 'copy';
  let targets: Set<string> | undefined;
  let archive;
  let check: ContentCheck;
  try {
    if (copies && typeof source === 'string' && source !== '-') targets = await hardlinkTargets(source, signal);
    archive = await openArchive(source, { keepsChunks: true, signal, headerDigests: declaresManifest });
    check = await ContentCheck.open(source, false, archive.format);
    check.nothingOnDisk = true;
  } catch (err) {
    await opened.abort();
    throw abortedOr(signal, err);
  }
  const spool = targets?.size ? new Spool() : undefined;
  /** Hardlinks whose content was copied: the root file of each (a link may name a link). */
  const linkRoots = new Map<string, string>();
  const kinds = new Map<string, number>();
  const note = (what: string) => kinds.set(what, (kinds.get(what) ?? 0) + 1);
  const src = archive;
  const archiveName = archive.name;
  // Damage in the source must not be copied into an archive whose new manifest would vouch for
  // it: every member is checked against the source's manifest as it passes (as extract does,
  // spec/manifest.md §11), and the first mismatch fails the conversion (nothing is written).
  const failOn = (d: ContentDamage | undefined) => {
    if (d) throw new DamagedError(`${d.what.replace(/; not extracted$/, '')}; converting a damaged archive writes nothing (run portarc verify)`, { archive: archiveName, entry: d.path, offset: d.range?.[0] });
  };
  async function* checked(body: AsyncIterable<Buffer>, plan: Planned, path: string): AsyncGenerator<Buffer> {
    yield* body;
    const wrong = plan.check.verdict?.();
    if (wrong !== undefined) failOn({ path, what: wrong });
    plan.check.written?.(Buffer.alloc(0), 0);
  }
  async function* entries() {
    /** Where the last member read starts: what the manifest lists after it is missing. */
    let lastOffset: number | undefined;
    for await (const m of abortable(src.members, signal)) {
      lastOffset = m.offset;
      check.met(m.entry.path, m.offset);
      // The source's manifest describes the source; the target gets its own.
      if (isManifestMember(m.entry.path, src.info.features.compat)) {
        await check.manifestMember(m.entry, m.body, undefined, false, src.skipped);
        failOn(check.damaged[0] ?? check.lost[0]);
        continue;
      }
      const plan = await check.plan(m.entry, m.body, m.offset, src.info, m.headerSha256);
      failOn(plan.refused);
      failOn(check.damaged[0] ?? check.lost[0]);
      // A file is judged once the writer has read its body; a hardlink (whose body the writer
      // never reads) is logged for the stream check at once.
      const isFile = m.entry.type === 'file';
      const body = isFile && (plan.check.verdict || plan.check.written) ? checked(plan.body, plan, m.entry.name) : plan.body;
      if (!isFile) plan.check.written?.(Buffer.alloc(0), 0);
      const key = m.entry.path.toString('latin1');
      if (spool && m.entry.type === 'file' && targets!.has(key)) {
        yield { entry: m.entry, body: () => spool.tee(key, m.entry, body) };
        continue;
      }
      if (m.entry.type === 'hardlink' && m.entry.linkTarget && copies) {
        // Through a chain of links (h2 → h1 → f) to the file whose content was kept.
        const t = m.entry.linkTarget.toString('latin1');
        const root = linkRoots.get(t) ?? t;
        if (spool && targets!.has(root)) linkRoots.set(key, root);
        const kept = spool?.get(root);
        if (kept) {
          yield { entry: { ...m.entry, size: kept.size }, body: () => kept.read() };
          continue;
        }
      }
      if (opened.format === 'zip') noteZipLimits(m.entry, note);
      if (m.sizeUnknown) {
        // A zip from a stream, its size after its data (a descriptor): the entry said 0 bytes, and
        // the writer cut the content to that ("file changed as we read it"), the new manifest
        // vouching for an empty file. Spooled first, then written with its real size.
        yield* sized(one({ entry: { ...m.entry, size: undefined as unknown as number }, body: () => body }), signal);
        continue;
      }
      yield { entry: m.entry, body: () => body };
    }
    await check.finish('', undefined, false, src.skipped, lastOffset, declaresManifest(src.info));
    failOn(check.damaged[0] ?? check.lost[0]);
  }
  try {
    const result = await writeEntries(entries(), opened, typeof dest === 'string' ? dest : '(stream)', options.onEntry, [], signal);
    result.warnings.unshift(...archive.info.warnings, ...check.warnings);
    result.notices.unshift(...archive.info.notices);
    return { ...result, from: archive.format, to: opened.format, portarcOnly: [...kinds].map(([k, n]) => `${n} ${k}`) };
  } finally {
    await archive.close();
    await check.close();
    await spool?.dispose();
  }
}

/** Archive paths (latin1 keys) that some hardlink of the archive names: one listing pass, bodies skipped. */
async function hardlinkTargets(path: string, signal: AbortSignal | undefined): Promise<Set<string>> {
  const targets = new Set<string>();
  const archive = await openArchive(path, { signal });
  try {
    // A link to a link (h2 → h1 → f) needs f's content: each link's root file, by name.
    const roots = new Map<string, string>();
    for await (const m of archive.members) {
      if (m.entry.type === 'hardlink' && m.entry.linkTarget) {
        const t = m.entry.linkTarget.toString('latin1');
        const root = roots.get(t) ?? t;
        roots.set(m.entry.path.toString('latin1'), root);
        targets.add(root);
      }
    }
  } finally {
    await archive.close();
  }
  return targets;
}

/** Content of hardlink targets, kept on disk (never in memory) until the links that need it come. */
class Spool {
  private dir?: Promise<string>;
  private files = new Map<string, { file: string; size: number }>();
  private count = 0;

  /** Pass the body through while writing it to a spool file; the copy counts only when complete. */
  async *tee(key: string, entry: Entry, body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    // Sparse targets hand out their runs back to back, not the file: not worth a copy.
    if (entry.sparse) return yield* body;
    this.dir ??= mkdtemp(join(tmpdir(), 'portarc-links-'));
    const file = join(await this.dir, String(++this.count));
    const fh = await open(file, 'w');
    let size = 0;
    try {
      for await (const part of body) {
        await fh.write(part);
        size += part.length;
        yield part;
      }
    } finally {
      // Also when the consumer stops pulling once it has its bytes (return() lands here).
      await fh.close();
      if (size === entry.size) this.files.set(key, { file, size });
    }
  }

  get(key: string): { size: number; read: () => AsyncIterable<Buffer> } | undefined {
    const f = this.files.get(key);
    return f && { size: f.size, read: () => createReadStream(f.file) };
  }

  async dispose(): Promise<void> {
    if (this.dir) await rm(await this.dir, { recursive: true, force: true });
  }
}

/** A zip keeps all of it in portarc's PX field, but unzip, bsdtar and 7-Zip restore none of these. */
function noteZipLimits(e: Entry, note: (what: string) => void): void {
  if (e.xattrs.size) note('with xattrs');
  if (e.selinux) note('with SELinux labels');
  if (e.aclAccess || e.aclDefault) note('with ACLs');
  if (e.type === 'fifo' || e.type === 'chardev' || e.type === 'blockdev') note(`${e.type} entries (plain files to other tools)`);
  if (e.type === 'hardlink' && !e.size) note('hardlink entries (other tools extract them empty)');
  if (e.sparse) note('sparse files (stored dense)');
  if (e.mtimeNs < 0n || e.mtimeNs >= 2n ** 31n * 1_000_000_000n) note('times outside 1970-2038 (kept only in PX)');
}

/** One item as an async iterable (for sized()). */
async function* one<T>(item: T): AsyncGenerator<T> {
  yield item;
}
