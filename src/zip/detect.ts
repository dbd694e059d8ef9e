// Format sniffing for the api layer: does a byte prefix start a zip archive?
// Spec: spec/zip-profile.md §1. A zip with members starts "PK\x03\x04"; an empty one is only its
// end record, "PK\x05\x06". ("PK\x07\x08" starts a split archive's first part, not supported.)

export const ZIP_MAGIC = {
  local: Buffer.from([0x50, 0x4b, 0x03, 0x04]),
  empty: Buffer.from([0x50, 0x4b, 0x05, 0x06]),
};

/** True when the first bytes of an input are those of a zip archive (4 bytes are enough). */
export function isZip(head: Buffer): boolean {
  if (head.length < 4) return false;
  const first = head.subarray(0, 4);
  return first.equals(ZIP_MAGIC.local) || first.equals(ZIP_MAGIC.empty);
}
