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

/**
 * Whether a process of this id runs on this host (another user's answers EPERM: it runs): what a
 * file named for the portarc process that made it (a partial archive, a restore's temporary) is
 * left by a run that was killed, when it does not.
 */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the inode is one of portarc's own temporary files or directories. */
export function isOwnFile(dev: bigint, ino: bigint): boolean {
  return own.size > 0 && own.has(keyOf(dev, ino));
}
