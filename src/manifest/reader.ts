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

function path(v: string | undefined, where: string): Buffer {
  if (v === undefined) throw new ManifestError(`${where}: no path`);
  try {
    return unescapePath(v);
  } catch (err) {
    throw new ManifestError(`${where}: ${(err as Error).message}`);
  }
}

export async function* readManifest(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<ManifestItem> {
  // Loaded when a manifest is read: saxes' character-class tables cost ~8 MiB of RSS, which
  // create (it only writes manifests) should not pay against the 100 MiB bar.
  const { SaxesParser } = await import('saxes');
  const parser = new SaxesParser({ position: true });
  const ready: ManifestItem[] = [];
  let failure: Error | undefined;
  let depth = 0;
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
        ready.push({ kind: 'head', head: { version: a.version!, spec: a.spec ?? '', creator: a.creator ?? '', container, features: { compat: [], rocompat: [], incompat: [] } } });
        const head = (ready.at(-1) as { head: ManifestHead }).head;
        if (a.compression) head.compression = a.compression;
        if (a['gzip-header'] && /^[0-9a-f]{20}$/.test(a['gzip-header'])) head.gzipHeader = a['gzip-header'];
      } else if (depth === 2 && tag.name === 'features') {
        const head = ready.find((i) => i.kind === 'head');
        const split = (v: string | undefined) => (v ? v.split(/\s+/).filter(Boolean) : []);
        const features = { compat: split(a.compat), rocompat: split(a.rocompat), incompat: split(a.incompat) };
        if (head?.kind === 'head') head.head.features = features;
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
    yield* ready.splice(0);
  };
  try {
    for await (const c of src) {
      // Small slices: the entries of one slice are all that is alive at a time (memory flat).
      for (let at = 0; at < c.length; at += SLICE) {
        parser.write(decoder.decode(c.subarray(at, at + SLICE), { stream: true }));
        yield* drain();
      }
    }
    parser.write(decoder.decode());
    parser.close();
  } catch (err) {
    if (err instanceof TypeError) throw new ManifestError('not valid UTF-8');
    throw err;
  }
  yield* drain();
  if (!sawRoot) throw new ManifestError('empty document');
  if (!sawFoot) throw new ManifestError('ends before its <archive> element (truncated?)');
}
