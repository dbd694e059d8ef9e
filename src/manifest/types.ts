// The manifest's content as the writer takes it and the reader gives it back.
// Spec: spec/manifest.md §3 (document) — the XML elements and attributes named here.

import type { EntryType } from '../model/entry.js';
import type { ArchiveInfo } from '../model/archive-info.js';

/** The reserved member names (spec/manifest.md §2). */
export const MANIFEST_NAME = '.portarc/manifest.xml';
export const TRAILER_NAME = '.portarc/trailer';
/** The compat feature an archive with a manifest names in its archive-level data. */
export const MANIFEST_FEATURE = 'manifest';
/**
 * The manifest version this implementation writes and fully reads; it reads 1.x too (portarc
 * 0.1.0's, whose whole-archive digest is of the bytes: spec/manifest.md §6, §7).
 */
export const MANIFEST_VERSION = { major: 2, minor: 0 };

/** The major version of a manifest's "MAJOR.MINOR" (NaN if malformed). */
export function manifestMajor(version: string): number {
  return Number(/^(\d+)\./.exec(version)?.[1]);
}
export const MANIFEST_NS = 'urn:portarc:manifest:1';

export interface ManifestHead {
  /** Manifest version "MAJOR.MINOR". */
  version: string;
  /** Spec version of the archive. */
  spec: string;
  creator: string;
  container: 'tar' | 'zip';
  features: { compat: string[]; rocompat: string[]; incompat: string[] };
  /** Compression around the container, as written: 'none', 'gzip' or 'zstd'. */
  compression?: string;
  /** The 10-byte gzip header written, in hex: the bytes no gzip decoder checks (spec/manifest.md §3.1). */
  gzipHeader?: string;
}

export interface ManifestEntry {
  path: Buffer;
  type: EntryType;
  /** Logical content size (files); 0 otherwise. */
  size: number;
  /** SHA-256 of the content, hex (regular files only). */
  sha256?: string;
  /** Symlink target, or the archive path a hardlink points to. */
  link?: Buffer;
  /** Offset of the member's first header in the container (uncompressed tar stream, or zip file). */
  offset: number;
  /** Where the member's stored data starts; equals `end` when it has none. */
  data: number;
  /** Where the member ends (the next member's range begins). */
  end: number;
  /** SHA-256 of the container bytes from the end of the previous member (0 for the first) to `data`. */
  headerSha256: string;
  /** SHA-256 of the container bytes from `data` to `end` (absent when data = end). */
  dataSha256?: string;
}

export interface ManifestFoot {
  entries: number;
  /** Bytes before the manifest member: the length the archive digest covers. */
  bytes: number;
  /** SHA-256 of every container byte before the manifest member. */
  sha256: string;
}

/**
 * True for the manifest and trailer members of an archive that declares the manifest feature:
 * readers hide them from listings and extraction unless asked (spec/manifest.md §2).
 */
export function isManifestMember(path: Buffer, compatFeatures: readonly string[]): boolean {
  if (!compatFeatures.includes(MANIFEST_FEATURE)) return false;
  // Asked for every member: compared as bytes, no string made.
  return path.equals(MANIFEST_BYTES) || path.equals(TRAILER_BYTES);
}
const MANIFEST_BYTES = Buffer.from(MANIFEST_NAME, 'latin1');
const TRAILER_BYTES = Buffer.from(TRAILER_NAME, 'latin1');

/**
 * Whether an archive declares the manifest feature (its global header): then each member's header
 * range is digested as it is read, to be held against the manifest's hsha256 (spec/manifest.md §5).
 */
export function declaresManifest(info: ArchiveInfo): boolean {
  return info.features.compat.includes(MANIFEST_FEATURE);
}
