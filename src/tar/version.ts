// Archive-level data in the global header: spec version, creator and features, and the reader's
// rules for what it does not know. Spec: spec/portarc-1.md §7 (versions and features).

import { FEATURE_CLASSES, SPEC_VERSION_TEXT, applyArchiveKey, noticeOnce, type ArchiveInfo, type FeatureClass } from '../model/archive-info.js';
import { formatPaxRecord, type PaxRecord } from './pax.js';
import { isKnownPaxKey } from './paxmap.js';

export { KNOWN_FEATURES, SPEC_VERSION, SPEC_VERSION_TEXT, newArchiveInfo, type ArchiveInfo, type FeatureClass } from '../model/archive-info.js';

const PREFIX = 'PORTARC.';

/**
 * Take the PORTARC.* records of a global header into `info`, enforce the feature rules, and return
 * the other records (standard keys in a `g` header apply to every later member, as in GNU tar).
 */
export function applyGlobalRecords(info: ArchiveInfo, records: PaxRecord[], archive: string, offset: number): PaxRecord[] {
  const rest: PaxRecord[] = [];
  for (const { key, value } of records) {
    if (!key.startsWith(PREFIX)) {
      // Known keys apply to every later member (as in GNU tar); unknown ones are a notice, once
      // for the archive, not once per member (spec §6.5).
      if (isKnownPaxKey(key)) rest.push({ key, value });
      else noticeOnce(info, `${archive}: unknown global keyword "${key}" ignored`);
      continue;
    }
    const sub = key.slice(PREFIX.length);
    if (!applyArchiveKey(info, sub, value.toString('utf8'), archive, offset)) {
      noticeOnce(info, `${archive}: unknown archive keyword "${key}" ignored`);
    }
  }
  return rest;
}

/** The global header records portarc writes first in every archive. */
export function globalRecords(creator: string, features: Record<FeatureClass, string[]> = { compat: [], rocompat: [], incompat: [] }): Buffer[] {
  const recs = [formatPaxRecord('PORTARC.version', SPEC_VERSION_TEXT)];
  // Never a zero-length value: in pax that means "delete the keyword".
  if (creator) recs.push(formatPaxRecord('PORTARC.creator', creator));
  for (const cls of FEATURE_CLASSES) {
    if (features[cls].length) recs.push(formatPaxRecord(`PORTARC.features.${cls}`, features[cls].join(',')));
  }
  return recs;
}
