// Archive-level data of a portarc zip: spec version, creator and features, carried as a PX "archive"
// record in the first member, and the reader's rules for what it does not know (the same rules as
// the tar global header). Spec: spec/zip-profile.md §5.4 and spec/portarc-1.md §7.
//
// The shape matches the tar layer's ArchiveInfo on purpose, so the api layer can treat both alike.

import { UnsupportedFeatureError } from '../model/errors.js';

export const ZIP_SPEC_VERSION = { major: 1, minor: 0 };
export const ZIP_SPEC_VERSION_TEXT = `${ZIP_SPEC_VERSION.major}.${ZIP_SPEC_VERSION.minor}`;

export type FeatureClass = 'compat' | 'rocompat' | 'incompat';
/** Features this implementation understands. Version 1.0 defines none yet. */
const KNOWN: Record<FeatureClass, Set<string>> = { compat: new Set(), rocompat: new Set(), incompat: new Set() };

export interface ZipArchiveInfo {
  version?: string;
  creator?: string;
  features: Record<FeatureClass, string[]>;
  readOnly: boolean;
  warnings: string[];
}

export function newZipArchiveInfo(): ZipArchiveInfo {
  return { features: { compat: [], rocompat: [], incompat: [] }, readOnly: false, warnings: [] };
}

/** The value of the PX archive record: "key=value" lines. */
export function formatArchiveRecord(creator: string, features?: Partial<Record<FeatureClass, string[]>>): Buffer {
  const lines = [`version=${ZIP_SPEC_VERSION_TEXT}`, `creator=${creator.replace(/\n/g, ' ')}`];
  for (const cls of ['compat', 'rocompat', 'incompat'] as const) {
    if (features?.[cls]?.length) lines.push(`features.${cls}=${features[cls]!.join(',')}`);
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

/** Take an archive record into `info`, refusing what this reader must not read. */
export function applyArchiveRecord(info: ZipArchiveInfo, text: string, archive: string, offset: number): void {
  for (const line of text.split('\n')) {
    if (!line) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    const value = eq < 0 ? '' : line.slice(eq + 1);
    if (key === 'version') {
      const m = /^(\d+)\.(\d+)$/.exec(value);
      if (!m) {
        info.warnings.push(`${archive}: portarc version "${value}" is not MAJOR.MINOR; ignored`);
        continue;
      }
      info.version = value;
      if (Number(m[1]) > ZIP_SPEC_VERSION.major) {
        throw new UnsupportedFeatureError(
          `archive was written for portarc spec ${value}; this reader implements spec ${ZIP_SPEC_VERSION_TEXT} and cannot read a new major version`,
          { archive, offset },
        );
      }
    } else if (key === 'creator') info.creator = value;
    else if (key === 'features.compat' || key === 'features.rocompat' || key === 'features.incompat') {
      const cls = key.slice('features.'.length) as FeatureClass;
      const names = value.split(',').filter((s) => s !== '');
      info.features[cls].push(...names);
      for (const name of names.filter((n) => !KNOWN[cls].has(n))) {
        if (cls === 'incompat') {
          throw new UnsupportedFeatureError(
            `archive needs feature "${name}" (incompatible; written by spec ${info.version ?? 'unknown'}), which this reader (spec ${ZIP_SPEC_VERSION_TEXT}) does not implement: upgrade portarc`,
            { archive, offset },
          );
        }
        if (cls === 'rocompat') {
          info.readOnly = true;
          info.warnings.push(`${archive}: unknown read-only-compatible feature "${name}": readable, but must not be modified or appended to`);
        }
      }
    } else info.warnings.push(`${archive}: unknown archive keyword "${key}" ignored`);
  }
}
