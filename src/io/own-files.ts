// Files portarc makes while it writes an archive: the spools of the manifest and of a zip's central
// directory, in the temporary directory. A scan that reaches them (a backup of / takes /tmp)
// leaves them out, as it leaves out the archive itself: they are not the user's files, and they
// change while they are read. Spec: spec/portarc-1.md §8.5 (what create leaves out).

const own = new Set<string>();

const keyOf = (dev: bigint, ino: bigint) => `${dev}:${ino}`;

/** Mark a file or directory as portarc's own until released. */
export function holdOwnFile(dev: bigint, ino: bigint): () => void {
  const key = keyOf(dev, ino);
  own.add(key);
  return () => void own.delete(key);
}

/** Whether the inode is one of portarc's own temporary files or directories. */
export function isOwnFile(dev: bigint, ino: bigint): boolean {
  return own.size > 0 && own.has(keyOf(dev, ino));
}
