// Archive-level data in the global header: spec version, creator and features, and the reader's
// rules for what it does not know. Spec: spec/portarc-1.md §7 (versions and features).

import { UnsupportedFeatureError } from '../model/errors.js';
import { formatPaxRecord, type PaxRecord } from './pax.js';
import { isKnownPaxKey } from './paxmap.js';

/** The spec version this implementation writes and fully reads. */
export const SPEC_VERSION = { major: 1, minor: 0 };
export const SPEC_VERSION_TEXT = `${SPEC_VERSION.major}.${SPEC_VERSION.minor}`;

/** Features this implementation understands, by class. Version 1.0 defines none yet. */
export const KNOWN_FEATURES = { compat: new Set<string>(), rocompat: new Set<string>(), incompat: new Set<string>() };

export type FeatureClass = keyof typeof KNOWN_FEATURES;

export interface ArchiveInfo {
  /** `PORTARC.version` of the archive, if it has one (archives from other tools do not). */
  version?: string;
  creator?: string;
  features: Record<FeatureClass, string[]>;
  /** Set when the archive uses a read-only-compatible feature this reader does not know. */
  readOnly: boolean;
  /** Archive-level warnings (unknown PORTARC keys, unknown features, truncation...). */
  warnings: string[];
}

export function newArchiveInfo(): ArchiveInfo {
  return { features: { compat: [], rocompat: [], incompat: [] }, readOnly: false, warnings: [] };
}

const PREFIX = 'PORTARC.';

/**
 * Take the PORTARC.* records of a global header into `info`, enforce the feature rules, and return
 * the other records (standard keys in a `g` header apply to every later member, as in GNU tar).
 */
export function applyGlobalRecords(info: ArchiveInfo, records: PaxRecord[], archive: string, offset: number): PaxRecord[] {
  const rest: PaxRecord[] = [];
  for (const { key, value } of records) {
    if (!key.startsWith(PREFIX)) {
      // Known keys apply to every later member (as in GNU tar); unknown ones are reported once
      // for the archive, not once per member.
      if (isKnownPaxKey(key)) rest.push({ key, value });
      else info.warnings.push(`${archive}: unknown global keyword "${key}" ignored`);
      continue;
    }
    const text = value.toString('utf8');
    const sub = key.slice(PREFIX.length);
    if (sub === 'version') {
      const m = /^(\d+)\.(\d+)$/.exec(text);
      if (!m) {
        info.warnings.push(`${archive}: PORTARC.version "${text}" is not MAJOR.MINOR; ignored`);
        continue;
      }
      info.version = text;
      if (Number(m[1]) > SPEC_VERSION.major) {
        throw new UnsupportedFeatureError(
          `archive was written for portarc spec ${text}; this reader implements spec ${SPEC_VERSION_TEXT} and cannot read a new major version`,
          { archive, offset },
        );
      }
    } else if (sub === 'creator') {
      info.creator = text;
    } else if (sub === 'features.compat' || sub === 'features.rocompat' || sub === 'features.incompat') {
      const cls = sub.slice('features.'.length) as FeatureClass;
      const names = text.split(',').filter((s) => s !== '');
      info.features[cls].push(...names);
      for (const name of names.filter((n) => !KNOWN_FEATURES[cls].has(n))) {
        if (cls === 'incompat') {
          throw new UnsupportedFeatureError(
            `archive needs feature "${name}" (incompatible${info.version ? `, spec ${info.version}` : ''}), which this reader (spec ${SPEC_VERSION_TEXT}) does not implement: upgrade portarc to a version that supports it`,
            { archive, offset },
          );
        }
        if (cls === 'rocompat') {
          info.readOnly = true;
          info.warnings.push(`${archive}: unknown read-only-compatible feature "${name}": readable, but must not be modified or appended to`);
        }
        // Unknown compat features are ignored by rule, without a warning.
      }
    } else {
      info.warnings.push(`${archive}: unknown archive keyword "${key}" ignored`);
    }
  }
  return rest;
}

/** The global header records portarc writes first in every archive. */
export function globalRecords(creator: string, features: Record<FeatureClass, string[]> = { compat: [], rocompat: [], incompat: [] }): Buffer[] {
  const recs = [formatPaxRecord('PORTARC.version', SPEC_VERSION_TEXT)];
  // Never a zero-length value: in pax that means "delete the keyword".
  if (creator) recs.push(formatPaxRecord('PORTARC.creator', creator));
  for (const cls of ['compat', 'rocompat', 'incompat'] as const) {
    if (features[cls].length) recs.push(formatPaxRecord(`PORTARC.features.${cls}`, features[cls].join(',')));
  }
  return recs;
}
