// The caller's `filter` and `map` hooks on create() and extract(): which entries take part, and
// under which name. Spec: spec/portarc-1.md §8.6 (library hooks).
// A hardlink names its target by path: when `map` renames entries, the target is renamed by the
// same function (called on a file entry at the target's path), so links keep pointing at the
// entry they meant; a target that `map` drops leaves the link with nothing to point to, and that
// is an error naming the link, never a link to whatever else has that name.

import { EntryError, PortarcError, UsageError } from './errors.js';
import { displayName, makeEntry, type Entry } from './entry.js';

/** Keep (true) or skip (false) an entry; on create, a directory skipped is skipped with its contents. */
export type EntryFilter = (entry: Entry) => boolean | Promise<boolean>;
/** The entry to use instead (a new `path` renames it), or null to skip it. */
export type EntryMap = (entry: Entry) => Entry | null;

export interface Hooks {
  filter?: EntryFilter;
  map?: EntryMap;
}

/** Check the hooks' types up front: a mistake is one UsageError, not a TypeError mid-archive. */
export function checkHooks(o: Hooks): void {
  for (const k of ['filter', 'map'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new UsageError(`${k} must be a function (entry) => ${k === 'filter' ? 'boolean' : 'entry | null'}, not ${typeof o[k]}`);
  }
}

/**
 * The entry after the hooks, or undefined when it is skipped. `map`'s result is checked and its
 * display name recomputed from its path; a hardlink's target goes through `map` too.
 */
export async function applyHooks(entry: Entry, hooks: Hooks): Promise<Entry | undefined> {
  if (hooks.filter && !(await caller('filter', entry, async () => hooks.filter!(entry)))) return undefined;
  if (!hooks.map) return entry;
  const mapped = mapped1(entry, hooks.map);
  if (!mapped) return undefined;
  if (mapped.type === 'hardlink' && mapped.linkTarget) {
    const target = mapped1(makeEntry({ path: mapped.linkTarget, type: 'file' }), hooks.map);
    if (!target) throw new UsageError(`map() dropped this hardlink's target "${displayName(mapped.linkTarget)}": drop the link too, or keep the target`, { entry: mapped.name });
    mapped.linkTarget = target.path;
  }
  return mapped;
}

/** The caller's function, its failure named as this entry's (not taken for a read error). */
function caller<T>(what: string, entry: Entry, run: () => T): T {
  const fail = (err: unknown): never => {
    if (err instanceof PortarcError) throw err;
    throw new EntryError(`${what}() failed: ${err instanceof Error ? err.message : String(err)}`, { path: entry.name, cause: err });
  };
  try {
    const r = run();
    return (r instanceof Promise ? r.catch(fail) : r) as T;
  } catch (err) {
    return fail(err);
  }
}

function mapped1(entry: Entry, map: EntryMap): Entry | null {
  const was = entry.name;
  // A copy: a map that edits its argument in place must not change the entry as read.
  const m = caller('map', entry, () => map({ ...entry }));
  if (m === null || m === undefined) return null;
  const path = (m as { path: unknown }).path;
  if (typeof m !== 'object' || (typeof path !== 'string' && !Buffer.isBuffer(path)) || typeof m.type !== 'string') {
    throw new UsageError('map() must return an entry (with path and type) or null', { entry: was });
  }
  const bytes = typeof path === 'string' ? Buffer.from(path, 'utf8') : path;
  if (bytes.length === 0) throw new UsageError('map() returned an empty path: return null to skip the entry', { entry: was });
  return { ...m, path: bytes, name: displayName(bytes) };
}
