// Archive-level data of a portarc zip: spec version, creator and features, carried as a PX "archive"
// record in the first member, and the reader's rules for what it does not know (the same rules as
// the tar global header). Spec: spec/zip-profile.md §5.4 and spec/portarc-1.md §7.
//
// The rules and the ArchiveInfo shape are shared with the tar layer (src/model/archive-info.ts).

import { FEATURE_CLASSES, SPEC_VERSION_TEXT, applyArchiveKey, noticeOnce, newArchiveInfo, type ArchiveInfo, type FeatureClass } from '../model/archive-info.js';

export type { FeatureClass };
export const ZIP_SPEC_VERSION_TEXT = SPEC_VERSION_TEXT;
export type ZipArchiveInfo = ArchiveInfo;
export const newZipArchiveInfo = newArchiveInfo;

/** The value of the PX archive record: "key=value" lines. */
export function formatArchiveRecord(creator: string, features?: Partial<Record<FeatureClass, string[]>>): Buffer {
  const lines = [`version=${SPEC_VERSION_TEXT}`, `creator=${creator.replace(/\n/g, ' ')}`];
  for (const cls of FEATURE_CLASSES) {
    if (features?.[cls]?.length) lines.push(`features.${cls}=${features[cls]!.join(',')}`);
  }
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

/** Take an archive record into `info`, refusing what this reader must not read (the shared rules). */
export function applyArchiveRecord(info: ZipArchiveInfo, text: string, archive: string, offset: number): void {
  for (const line of text.split('\n')) {
    if (!line) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    const value = eq < 0 ? '' : line.slice(eq + 1);
    if (!applyArchiveKey(info, key, value, archive, offset)) noticeOnce(info, `${archive}: unknown archive keyword "${key}" ignored`);
  }
}
