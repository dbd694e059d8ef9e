// Live JS memory (heap and ArrayBuffers) after a full collection: for tests of what a structure
// keeps, free of the garbage a run leaves for later.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes held now (after a full GC): heap used plus ArrayBuffers. */
export function liveBytes(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
