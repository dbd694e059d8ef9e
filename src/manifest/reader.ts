// Streaming manifest reader over saxes (a strict XML parser): yields the head, each entry and the
// foot as the bytes arrive, so memory does not grow with the entry count. Reader rules for later
// versions (spec/manifest.md §6): unknown elements and attributes are ignored; a higher minor
// version is read; a higher major version is refused with UnsupportedFeatureError.

import type { SaxesTag } from 'saxes';
import { ArchiveError, UnsupportedFeatureError } from '../model/errors.js';
import type { EntryType } from '../model/entry.js';
import { unescapePath } from './escape.js';
import { MANIFEST_VERSION, type ManifestEntry, type ManifestFoot, type ManifestHead } from './types.js';

export type ManifestItem = { kind: 'head'; head: ManifestHead } | { kind: 'entry'; entry: ManifestEntry } | { kind: 'foot'; foot: ManifestFoot };

const TYPES = new Set<EntryType>(['file', 'directory', 'symlink', 'hardlink', 'fifo', 'chardev', 'blockdev']);
const HEX64 = /^[0-9a-f]{64}$/;
const SLICE = 64 << 10;

/** A malformed manifest: not XML, or a required attribute missing or wrong. */
export class ManifestError extends ArchiveError {
  constructor(reason: string) {
    super(`manifest: ${reason}`);
    this.name = 'ManifestError';
  }
}

function num(a: Record<string, string>, key: string, where: string): number {
  const v = a[key];
  if (v === undefined || !/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new ManifestError(`${where}: attribute ${key}="${v ?? ''}" is not a byte count`);
  return Number(v);
}

function digest(a: Record<string, string>, key: string, where: string, required: boolean): string | undefined {
  const v = a[key];
  if (v === undefined && !required) return undefined;
  if (v === undefined || !HEX64.test(v)) throw new ManifestError(`${where}: attribute ${key} is not a SHA-256 in lower-case hex`);
  return v;
}

/** `where`: what the message names, or the entry's number ("entry N", made only for a message). */
function path(v: string | undefined, where: string | number): Buffer {
  if (v === undefined) throw new ManifestError(`${named(where)}: no path`);
  try {
    return unescapePath(v);
  } catch (err) {
    throw new ManifestError(`${named(where)}: ${(err as Error).message}`);
  }
}

function named(where: string | number): string {
  return typeof where === 'number' ? `entry ${where}` : where;
}

export async function* readManifest(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<ManifestItem> {
  for await (const batch of readManifestBatches(src)) yield* batch;
}

/**
 * readManifest's items in the batches they are parsed in (up to a 64 KiB slice of the XML each):
 * for a reader that takes an entry per archive member, one async step per batch, not per entry.
 */
export async function* readManifestBatches(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<ManifestItem[]> {
  // Loaded when a manifest is read: saxes' character-class tables cost ~8 MiB of RSS, which
  // create (it only writes manifests) should not pay against the 100 MiB bar.
  const { SaxesParser } = await import('saxes');
  const parser = new SaxesParser({ position: true });
  const ready: ManifestItem[] = [];
  let failure: Error | undefined;
  let depth = 0;
  let head: ManifestHead | undefined;
  let sawRoot = false;
  let sawFoot = false;
  let n = 0;
  parser.on('error', (e) => {
    failure ??= new ManifestError(`not well-formed XML: ${e.message}`);
  });
  parser.on('closetag', () => void depth--);
  parser.on('opentag', (tag: SaxesTag) => {
    depth++;
    if (failure) return;
    const a = tag.attributes as Record<string, string>;
    try {
      if (depth === 1) {
        if (tag.name !== 'manifest') throw new ManifestError(`root element is <${tag.name}>, not <manifest>`);
        sawRoot = true;
        const m = /^(\d+)\.(\d+)$/.exec(a.version ?? '');
        if (!m) throw new ManifestError(`version "${a.version ?? ''}" is not MAJOR.MINOR`);
        if (Number(m[1]) > MANIFEST_VERSION.major) {
          throw new UnsupportedFeatureError(`manifest version ${a.version} is newer than this reader's ${MANIFEST_VERSION.major}.${MANIFEST_VERSION.minor}: its digests cannot be used; upgrade portarc`);
        }
        const container = a.container === 'zip' ? 'zip' : 'tar';
        head = { version: a.version!, spec: a.spec ?? '', creator: a.creator ?? '', container, features: { compat: [], rocompat: [], incompat: [] } };
        ready.push({ kind: 'head', head });
        if (a.compression) head.compression = a.compression;
        if (a['gzip-header'] && /^[0-9a-f]{20}$/.test(a['gzip-header'])) head.gzipHeader = a['gzip-header'];
      } else if (depth === 2 && tag.name === 'features') {
        // Set on the head object itself: it may have been handed out already (a piece of the
        // text that ended between the root's start tag and this element).
        const split = (v: string | undefined) => (v ? v.split(/\s+/).filter(Boolean) : []);
        if (head) head.features = { compat: split(a.compat), rocompat: split(a.rocompat), incompat: split(a.incompat) };
      } else if (depth === 2 && tag.name === 'entry') {
        const where = `entry ${++n}`;
        const type = a.type as EntryType;
        if (!TYPES.has(type)) throw new ManifestError(`${where}: unknown type "${a.type ?? ''}"`);
        const entry: ManifestEntry = {
          path: path(a.path, where),
          type,
          size: num(a, 'size', where),
          offset: num(a, 'offset', where),
          data: num(a, 'data', where),
          end: num(a, 'end', where),
          headerSha256: digest(a, 'hsha256', where, true)!,
        };
        const sha = digest(a, 'sha256', where, false);
        if (sha) entry.sha256 = sha;
        const ds = digest(a, 'dsha256', where, false);
        if (ds) entry.dataSha256 = ds;
        if (a.link !== undefined) entry.link = path(a.link, where);
        if (!(entry.offset <= entry.data && entry.data <= entry.end)) throw new ManifestError(`${where}: offsets ${entry.offset} <= ${entry.data} <= ${entry.end} do not hold`);
        ready.push({ kind: 'entry', entry });
      } else if (depth === 2 && tag.name === 'archive') {
        sawFoot = true;
        ready.push({ kind: 'foot', foot: { entries: num(a, 'entries', 'archive'), bytes: num(a, 'bytes', 'archive'), sha256: digest(a, 'sha256', 'archive', true)! } });
      }
      // Anything else is from a later minor version: ignored by rule.
    } catch (err) {
      failure = err as Error;
    }
  });
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const drain = function* () {
    if (failure) throw failure;
    if (ready.length) yield ready.splice(0);
  };
  const lines = new CanonicalLines();
  /** Text for the parser: entry lines in the writer's own form are taken without it. */
  const write = (text: string) => {
    const rest = lines.take(text, (m) => {
      if (failure) return;
      try {
        ready.push({ kind: 'entry', entry: canonicalEntry(m, ++n) });
      } catch (err) {
        failure = err as Error;
      }
    }, (line) => parser.write(line));
    if (rest) parser.write(rest);
  };
  try {
    for await (const c of src) {
      // Small slices: the entries of one slice are all that is alive at a time (memory flat).
      for (let at = 0; at < c.length; at += SLICE) {
        write(decoder.decode(c.subarray(at, at + SLICE), { stream: true }));
        yield* drain();
      }
    }
    write(decoder.decode());
    parser.write(lines.end());
    parser.close();
  } catch (err) {
    if (err instanceof TypeError) throw new ManifestError('not valid UTF-8');
    throw err;
  }
  yield* drain();
  if (!sawRoot) throw new ManifestError('empty document');
  if (!sawFoot) throw new ManifestError('ends before its <archive> element (truncated?)');
}

// ---- The writer's own lines, without the XML parser --------------------------------------------
// saxes costs ~8 µs an entry (a manifest of 50,000 entries: 0.4 s of an extract's or verify's
// CPU). An entry line exactly as portarc writes it is read here instead, by a pattern that admits
// only well-formed XML whose attribute values mean what they say (no markup, no character XML
// forbids, only the five predefined references). That holds only while every line before it was
// a whole construct of the expected kinds (the declaration, the root's start tag, <features/>,
// entry lines): then the parser, had it read the line, would be at depth 1 between elements, and
// leaving the line out changes nothing it checks. From the first line of any other kind (a
// comment, other spacing, an attribute of a later version, CRLF) the parser reads everything.

const CHARS = '[^"<&\\u0000-\\u001f\\ufffe\\uffff]*';
const VALUE = `${CHARS}(?:&(?:amp|lt|gt|quot|apos);${CHARS})*`;
const NUM = '(\\d{1,16})';
const HEX = '([0-9a-f]{64})';
const ENTRY_LINE = new RegExp(
  `^<entry path="(${VALUE})" type="(file|directory|symlink|hardlink|fifo|chardev|blockdev)" size="${NUM}"(?: sha256="${HEX}")?(?: link="(${VALUE})")? offset="${NUM}" data="${NUM}" end="${NUM}" hsha256="${HEX}"(?: dsha256="${HEX}")?/>$`,
);
const DECL_LINE = '<?xml version="1.0" encoding="UTF-8"?>';
const ROOT_LINE = /^<manifest(?: [A-Za-z][-A-Za-z0-9:]*="[^"<]*")*>$/;
const FEATURES_LINE = /^<features(?: [A-Za-z][-A-Za-z0-9:]*="[^"<]*")*\/>$/;

/** Splits the text into lines while they are of the kinds above; hands each on. */
class CanonicalLines {
  private carry = '';
  private seen = 0; // 0: nothing yet, 1: the declaration, 2: the root, 3: <features/>
  private on = true;

  /** Entry lines go to `entry`, other lines to `other`; returns text to parse once off. */
  take(text: string, entry: (m: RegExpExecArray) => void, other: (line: string) => void): string {
    if (!this.on) return text;
    let from = 0;
    text = this.carry + text;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      const line = text.slice(from, nl);
      const m = this.seen === 3 ? ENTRY_LINE.exec(line) : null;
      if (m) entry(m);
      else if (this.seen === 0 && line === DECL_LINE) this.seen = 1;
      else if (this.seen === 1 && ROOT_LINE.test(line)) this.seen = 2;
      else if (this.seen === 2 && FEATURES_LINE.test(line)) this.seen = 3;
      else this.on = false;
      if (!this.on) {
        this.carry = '';
        return text.slice(from);
      }
      if (!m) other(text.slice(from, nl + 1));
      from = nl + 1;
    }
    this.carry = text.slice(from);
    return '';
  }

  /** What is left at the end (a last line without its newline). */
  end(): string {
    const rest = this.carry;
    this.carry = '';
    return rest;
  }
}

const REFS: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" };
const attr = (v: string) => (v.includes('&') ? v.replace(/&(?:amp|lt|gt|quot|apos);/g, (r) => REFS[r]!) : v);

/** An entry from ENTRY_LINE's groups, checked as the parser's opentag handler checks one. */
function canonicalEntry(m: RegExpExecArray, index: number): ManifestEntry {
  // Its name for messages ("entry N") is made only for a message: a string per entry was garbage
  // per member read.
  const entry: ManifestEntry = {
    path: path(attr(m[1]!), index),
    type: m[2] as EntryType,
    size: byteCount(m[3]!, 'size', index),
    offset: byteCount(m[6]!, 'offset', index),
    data: byteCount(m[7]!, 'data', index),
    end: byteCount(m[8]!, 'end', index),
    headerSha256: m[9]!,
  };
  if (m[4]) entry.sha256 = m[4];
  if (m[10]) entry.dataSha256 = m[10];
  if (m[5] !== undefined) entry.link = path(attr(m[5]), index);
  if (!(entry.offset <= entry.data && entry.data <= entry.end)) throw new ManifestError(`entry ${index}: offsets ${entry.offset} <= ${entry.data} <= ${entry.end} do not hold`);
  return entry;
}

function byteCount(v: string, key: string, index: number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new ManifestError(`entry ${index}: attribute ${key}="${v}" is not a byte count`);
  return n;
}

/** How many entry lines of `text` the pattern takes (tests: the fast path is really taken). */
export function canonicalLinesOf(text: string): number {
  let n = 0;
  new CanonicalLines().take(text, () => n++, () => undefined);
  return n;
}
