// The public library surface. Spec: spec/portarc-1.md; design: DESIGN.md §6.
export { create, type CreateInput, type CreateOptions, type CreateResult } from './create.js';
export { convert, type ConvertResult } from './convert.js';
export { openArchive, type Member, type OpenArchive } from './open.js';
export { extract, type ExtractOptions, type ExtractResult } from './extract.js';
export { list, type ListedEntry, type Listing, type ListOptions } from './list.js';
export { VERSION } from './version.js';
export { makeEntry, displayName, type Entry, type EntryType, type AclEntry, type SparseRun } from '../model/entry.js';
export { PortarcError, ArchiveError, UnsupportedFeatureError, LimitError, UsageError, IoError, EntryError, DamagedError, type PortarcErrorCode } from '../model/errors.js';
export { TarReader, type TarMember, type TarReaderOptions } from '../tar/reader.js';
export { TarWriter, type Sink, type TarWriterOptions } from '../tar/writer.js';
export { SPEC_VERSION_TEXT, type ArchiveInfo } from '../tar/version.js';
export { scan, type ScanOptions, type ScannedEntry } from '../fs/scan.js';
export { Restorer, type Loss, type RestoreOptions } from '../fs/restore.js';
export { loadSys, type Sys } from '../fs/sys.js';
export { decompressAuto, compressingSink, filterForPath, SeekTable, readRange, fileReader, zstdBackends, CompressError, type Filter } from '../compress/index.js';
export { ZipWriter, ZipStreamReader, openZip, type ZipFile, type ZipFileEntry } from '../zip/index.js';
export { verify, describeDamage, type VerifyOptions, type VerifyResult, type Damage, type DamagePart } from './verify.js';
export { readManifest, escapePath, unescapePath, ManifestWriter, MANIFEST_NAME, TRAILER_NAME, type ManifestEntry, type ManifestHead, type ManifestFoot, type ManifestItem } from '../manifest/index.js';
