// Checking a restore against a manifest that arrives last (spec/manifest.md §11.2): an archive read
// as a stream (stdin, a .tar.gz or .tar.zst) shows its manifest only after every entry. Each file
// restored is logged — offset, path, content digest, where it went and its inode — to a temporary
// file (memory stays flat whatever the entry count); when the manifest member arrives, the log and
// the manifest are walked side by side (both are in archive order) and every file whose digest
// differs, and every hardlink to one, is handed back to be set aside.

import { crc32 } from '../zip/crc.js';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readManifest, type ManifestEntry } from '../manifest/index.js';

export interface RestoredRecord {
  /** Offset of the member's first header in the container. */
  offset: number;
  /** Member path, as stored. */
  path: Buffer;
  /** The entry's display name. */
  name: string;
  /** Where it was restored (absolute). */
  abs: Buffer;
  ino: number;
  /** Content digest, for a file. */
  sha256?: string;
  /** Archive path of a hardlink's target. */
  link?: Buffer;
  /** SHA-256 of the member's header range, when the reader measured it. */
  header?: string;
  /** A file not restored: its name was kept as it was on disk (`abs` is empty). */
  kept?: boolean;
}

/**
 * Every member the reader yielded (restored or passed over by choice), in order, and who to tell
 * of an entry the manifest lists that no member was.
 */
export interface Met {
  /** CRC-32 of each member's path (metName), in the order read. */
  names: readonly number[];
  missing: (e: ManifestEntry) => void;
}

/**
 * How far past the last member matched the next entry's member is looked for: members put in
 * between (appended, or damage read as members) are passed over, and one cut out does not make
 * the entries after it missing.
 */
const MET_WINDOW = 256;

/** What met() keeps of a member's path: enough to tell it from the member that moved into its place. */
export const metName = (path: Buffer): number => crc32(path);

export interface Mismatch {
  record: RestoredRecord;
  what: string;
  /** The member's data range (file) or header range (hardlink) in the container. */
  range: [number, number];
}

/** What a member read from a header found inside its own header range, its first headers skipped as damaged, is reported with. */
export const OWN_HEADER_LOST = 'its first headers were damaged and skipped: only its ustar header was left, without what they said of it (pax records: times, long name, owner names, xattrs, ACLs), so it does not get its name';

/** What a member whose header range digest differs from the manifest's is reported with. */
export function headerMismatch(got: string, want: string): string {
  return `header does not match the manifest (hsha256 ${got}, manifest ${want}): its metadata may be wrong`;
}

const FLUSH = 64 << 10;
/** Records sorted in memory at a time when the log is out of order (~250 bytes each). */
const RUN = 16384;

/** A log line's offset: lines begin `{"o":N,` (add() writes them so). */
const offsetOf = (line: string): number => parseInt(line.slice(5), 10);

export class RestoredLog {
  private dir = mkdtempSync(join(tmpdir(), 'portarc-check-'));
  private file = join(this.dir, 'restored.jsonl');
  private fd = openSync(this.file, 'w', 0o600);
  private buf: string[] = [];
  private bufLen = 0;
  count = 0;
  /**
   * Whether the records came in archive order. They need not: a small file's record comes when
   * its batch is written (fs/restore.ts), after files the restorer wrote at once (big or sparse
   * ones, hardlinks) that follow it in the archive. check() reads them sorted either way.
   */
  private inOrder = true;
  private last = -1;

  /** `runSize`: records sorted in memory at a time (smaller in tests, to make several runs). */
  constructor(private runSize = RUN) {}

  add(r: RestoredRecord): void {
    if (r.offset < this.last) this.inOrder = false;
    this.last = r.offset;
    const line = JSON.stringify({ o: r.offset, p: r.path.toString('hex'), n: r.name, a: r.abs.toString('hex'), i: r.ino, s: r.sha256, l: r.link?.toString('hex'), h: r.header, k: r.kept ? 1 : undefined });
    this.buf.push(line);
    this.bufLen += line.length + 1;
    this.count++;
    if (this.bufLen >= FLUSH) this.flush();
  }

  private flush(): void {
    if (!this.buf.length) return;
    const text = Buffer.from(this.buf.join('\n') + '\n');
    for (let off = 0; off < text.length; ) off += writeSync(this.fd, text, off);
    this.buf = [];
    this.bufLen = 0;
  }

  private lines(file: string): AsyncIterable<string> {
    return createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  }

  /**
   * The log's lines by offset: as written when they came in order; else sorted in runs of RUN
   * lines, each run to its own file, and the runs merged (memory flat whatever the entry count).
   */
  private async *sortedLines(): AsyncGenerator<string> {
    if (this.inOrder) {
      for await (const line of this.lines(this.file)) if (line) yield line;
      return;
    }
    const runs: string[] = [];
    let run: string[] = [];
    const spill = () => {
      run.sort((a, b) => offsetOf(a) - offsetOf(b));
      const f = join(this.dir, `run-${runs.length}.jsonl`);
      writeFileSync(f, run.join('\n') + '\n', { mode: 0o600 });
      runs.push(f);
      run = [];
    };
    for await (const line of this.lines(this.file)) {
      if (!line) continue;
      run.push(line);
      if (run.length === this.runSize) spill();
    }
    if (runs.length === 0) {
      // One run: no file to write.
      run.sort((a, b) => offsetOf(a) - offsetOf(b));
      yield* run;
      return;
    }
    if (run.length) spill();
    const its = runs.map((f) => this.lines(f)[Symbol.asyncIterator]());
    try {
      const heads: (string | undefined)[] = await Promise.all(its.map(async (it) => (await it.next()).value as string | undefined));
      for (;;) {
        let min = -1;
        for (let i = 0; i < heads.length; i++) if (heads[i] !== undefined && (min < 0 || offsetOf(heads[i]!) < offsetOf(heads[min]!))) min = i;
        if (min < 0) return;
        yield heads[min]!;
        const r = await its[min]!.next();
        heads[min] = r.done ? undefined : (r.value as string);
      }
    } finally {
      // Close the run files (a check that stops early leaves them open otherwise).
      await Promise.all(its.map((it) => it.return?.()));
    }
  }

  private async *records(): AsyncGenerator<RestoredRecord> {
    this.flush();
    for await (const line of this.sortedLines()) {
      const j = JSON.parse(line) as { o: number; p: string; n: string; a: string; i: number; s?: string; l?: string; h?: string; k?: 1 };
      yield { offset: j.o, path: Buffer.from(j.p, 'hex'), name: j.n, abs: Buffer.from(j.a, 'hex'), ino: j.i, sha256: j.s, link: j.l === undefined ? undefined : Buffer.from(j.l, 'hex'), header: j.h, kept: j.k === 1 };
    }
  }

  /**
   * Walk the log beside the manifest's XML; call `bad` for each file whose content digest differs
   * from the manifest's, and each hardlink whose target is such a file. Entries the manifest does
   * not list at the same offset with the same path are not judged (verify reports those).
   * `skipped`: ranges the reader skipped past damage (archive order, exact offsets); `lost` is told
   * of each member the manifest places in one (except the one the reader named), so that members
   * whose headers were lost are named too (spec §6.8). `unlisted` is told of each file logged at an
   * offset below `exactUntil` that the manifest does not list there (§11.1 item 6); past that
   * offset (a loss of unknown size) the reader's offsets are not the archive's.
   */
  async check(xml: AsyncIterable<Buffer>, bad: (m: Mismatch) => void, skipped: readonly { range: [number, number]; entry?: string }[] = [], lost?: (e: ManifestEntry) => void, unlisted?: (rec: RestoredRecord, listed?: ManifestEntry) => void, exactUntil = Infinity, met?: Met): Promise<void> {
    const items = readManifest(xml);
    let current: ManifestEntry | undefined;
    /** The entry before `current`. */
    let previous: ManifestEntry | undefined;
    let ended = false;
    let k = 0;
    /**
     * An entry whose header lies in skipped bytes, reported as lost once the records have passed
     * its header range: a record inside it is the member itself, read from the ustar header
     * found after its damaged first headers (then reported so, not as lost).
     */
    let losing: ManifestEntry | undefined;
    const settle = (upTo: number) => {
      if (losing && losing.data <= upTo) {
        lost?.(losing);
        losing = undefined;
      }
    };
    let j = 0;
    const seen = (e: ManifestEntry) => {
      while (k < skipped.length && skipped[k]!.range[1] <= e.offset) k++;
      const s = skipped[k];
      if (!s || e.offset < s.range[0]) {
        // Not in skipped bytes: the reader met its member (in order, wherever damage moved it),
        // or the archive has none (a member cut out: nothing else would say so, exit 0 with the
        // file missing).
        if (met && e.offset < exactUntil) {
          const name = metName(e.path);
          const names = met.names;
          let q = j;
          while (q < names.length && q < j + MET_WINDOW && names[q] !== name) q++;
          if (q < names.length && names[q] === name) j = q + 1;
          else met.missing(e);
        }
        return;
      }
      if (e.offset === s.range[0] && s.entry !== undefined) return; // the reader named it
      if (losing) lost?.(losing);
      losing = e;
    };
    const advance = async (offset: number) => {
      while (!ended && (!current || current.offset < offset)) {
        const r = await items.next();
        if (r.done) ended = true;
        else if (r.value.kind === 'entry') {
          previous = current;
          seen((current = r.value.entry));
        }
      }
    };
    // Only the damaged paths are remembered (hardlinks come after their target in archive order).
    const damaged = new Set<string>();
    try {
      for await (const rec of this.records()) {
        await advance(rec.offset);
        // Read from the ustar header inside its own header range, its first headers skipped (right
        // after a skipped range: a whole archive moved by a member put in front is not that).
        const inside = current && current.offset > rec.offset ? previous : current && current.offset < rec.offset ? current : undefined;
        const skip = skipped.find((s) => s.range[1] === rec.offset);
        if (inside && skip && skip.range[0] <= inside.offset && inside.offset < rec.offset && rec.offset < inside.data && inside.path.equals(rec.path)) {
          if (losing === inside) losing = undefined;
          if (rec.abs.length) damaged.add(rec.path.toString('latin1'));
          const content = rec.sha256 !== undefined && inside.sha256 !== undefined && rec.sha256 !== inside.sha256 ? `, and content does not match the manifest (sha256 ${rec.sha256}, manifest ${inside.sha256})` : '';
          bad({ record: rec, what: `${OWN_HEADER_LOST}${content}`, range: [inside.offset, inside.data] });
          continue;
        }
        settle(rec.offset);
        // A hardlink to a file set aside goes with it, listed or not (damage may have moved it).
        const linkBad = rec.link && damaged.has(rec.link.toString('latin1')) ? `hardlink to "${rec.link.toString('utf8')}", whose content does not match the manifest` : undefined;
        if (!current || current.offset !== rec.offset || !current.path.equals(rec.path)) {
          if (linkBad) {
            bad({ record: rec, what: linkBad, range: [rec.offset, rec.offset] });
            continue;
          }
          // A file where the manifest has none, or has another path: restored unchecked.
          if (rec.sha256 !== undefined && rec.offset < exactUntil) unlisted?.(rec, current?.offset === rec.offset ? current : undefined);
          continue;
        }
        if (rec.header !== undefined && rec.header !== current.headerSha256) {
          // What the header says of it (times, mode, owner, xattrs, link target) may be wrong.
          if (rec.abs.length) damaged.add(rec.path.toString('latin1'));
          const content = rec.sha256 !== undefined && current.sha256 !== undefined && rec.sha256 !== current.sha256 ? `, and content does not match the manifest (sha256 ${rec.sha256}, manifest ${current.sha256})` : '';
          bad({ record: rec, what: `${headerMismatch(rec.header, current.headerSha256)}${content}`, range: [current.offset, current.data] });
        } else if (rec.sha256 !== undefined && current.sha256 !== undefined && rec.sha256 !== current.sha256) {
          damaged.add(rec.path.toString('latin1'));
          bad({ record: rec, what: `content does not match the manifest (sha256 ${rec.sha256}, manifest ${current.sha256})`, range: [current.data, current.end] });
        } else if (linkBad) {
          bad({ record: rec, what: linkBad, range: [current.offset, current.data] });
        }
      }
      // The rest of the document: a manifest that does not parse to its end is reported by the caller.
      for (let r = await items.next(); !r.done; r = await items.next()) if (r.value.kind === 'entry') seen(r.value.entry);
      settle(Infinity);
    } finally {
      await items.return(undefined).catch(() => undefined);
    }
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
