// The ZIP container layer: writer, streaming reader, random-access reader, method registry.
// Spec: spec/zip-profile.md.
export { ZipWriter, type Sink, type ZipWriterOptions } from './writer.js';
export { ZipStreamReader, type ZipMember, type ZipStreamReaderOptions } from './stream-reader.js';
export { costsItsMember, openZip, ZipFile, type ZipFileEntry, type ZipOpenOptions } from './file-reader.js';
export { registerZipMethod, zipMethod, type ZipMethod, STORE, DEFLATE, ZSTD } from './methods.js';
export { type ZipArchiveInfo, ZIP_SPEC_VERSION_TEXT } from './info.js';
export { isZip, ZIP_MAGIC } from './detect.js';
export { PX_ID, PX_SIGNATURE, PX_VERSION, PX } from './portarc-extra.js';
