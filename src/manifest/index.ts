// The manifest layer (DESIGN §1): the XML index of an archive, its path escape and its trailer.
// It knows nothing of containers' byte layouts. Spec: spec/manifest.md.
export * from './types.js';
export { escapePath, unescapePath } from './escape.js';
export { ManifestWriter, xmlAttr, pathAttrBytes, type LaterLines, type LineEntry, type PendingDigests } from './writer.js';
export { ManifestError, readManifest, readManifestBatches, type ManifestItem } from './reader.js';
export { TRAILER_SIZE, TRAILER_TEXT_SIZE, TRAILER_MAGIC, isTrailerMagic, encodeTrailer, decodeTrailer, findTrailerMagic, TrailerError, type Trailer } from './trailer.js';
