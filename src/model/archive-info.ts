// Archive-level data shared by every container: spec version, creator and features, and the
// reader's rules for what it does not know (the ext2/3/4 model). The tar layer carries these as
// PORTARC.* keys in its global header, the zip layer as a PX archive record; both apply them here.
// Spec: spec/portarc-1.md §7 (versions and features), spec/zip-profile.md §5.4.

import { UnsupportedFeatureError } from './errors.js';

/** The spec version this implementation writes and fully reads. */
export const SPEC_VERSION = { major: 1, minor: 0 };
export const SPEC_VERSION_TEXT = `${SPEC_VERSION.major}.${SPEC_VERSION.minor}`;

/** Features this implementation understands, by class. `manifest`: spec/manifest.md. */
export const KNOWN_FEATURES = { compat: new Set<string>(['manifest']), rocompat: new Set<string>(), incompat: new Set<string>() };

export type FeatureClass = keyof typeof KNOWN_FEATURES;
export const FEATURE_CLASSES: readonly FeatureClass[] = ['compat', 'rocompat', 'incompat'];

export interface ArchiveInfo {
  /** The archive's spec version, if it states one (archives from other tools do not). */
  version?: string;
  creator?: string;
  features: Record<FeatureClass, string[]>;
  /** Set when the archive uses a read-only-compatible feature this reader does not know. */
  readOnly: boolean;
  /** Archive-level warnings (invalid values, unknown read-only-compatible features, truncation...): exit 1. */
  warnings: string[];
  /** Archive-level notices (unknown keywords, skipped by rule): printed, exit 0. Spec §6.5. */
  notices: string[];
}

export function newArchiveInfo(): ArchiveInfo {
  return { features: { compat: [], rocompat: [], incompat: [] }, readOnly: false, warnings: [], notices: [] };
}

/** Add an archive-level notice once: several global headers may repeat an unknown key (spec §6.1). */
export function noticeOnce(info: ArchiveInfo, text: string): void {
  if (!info.notices.includes(text)) info.notices.push(text);
}

/**
 * Apply one archive-level key (`version`, `creator`, `features.CLASS`) to `info`, refusing what this
 * reader must not read. Returns false for a key it does not know; the caller words that warning.
 */
export function applyArchiveKey(info: ArchiveInfo, key: string, value: string, archive: string, offset: number): boolean {
  if (key === 'version') {
    const m = /^(\d+)\.(\d+)$/.exec(value);
    if (!m) {
      info.warnings.push(`${archive}: portarc version "${value}" is not MAJOR.MINOR; ignored`);
      return true;
    }
    info.version = value;
    if (Number(m[1]) > SPEC_VERSION.major) {
      throw new UnsupportedFeatureError(
        `archive was written for portarc spec ${value}; this reader implements spec ${SPEC_VERSION_TEXT} and cannot read a new major version`,
        { archive, offset },
      );
    }
    return true;
  }
  if (key === 'creator') {
    info.creator = value;
    return true;
  }
  const cls = FEATURE_CLASSES.find((c) => key === `features.${c}`);
  if (!cls) return false;
  // Several global headers may repeat a feature: it is listed, and judged, once (spec §6.1).
  const names = [...new Set(value.split(',').filter((s) => s !== ''))].filter((n) => !info.features[cls].includes(n));
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
  return true;
}
