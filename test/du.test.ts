// The progress total of create (src/fs/du.ts): regular files' sizes, each inode once, directories
// walked one name at a time (a directory of a million names held a million paths on its stack).
import { describe, expect, it } from 'vitest';
import { contentBytes } from '../src/fs/du.js';
import { sh, tempDir } from './helpers/tree.js';

describe('contentBytes', () => {
  it('sums each regular file once: nested directories, hardlinks counted once, symlinks and fifos not', async () => {
    const dir = tempDir('du');
    sh('mkdir -p t/a/b t/c && head -c 1000 /dev/zero > t/a/one && head -c 234 /dev/zero > t/a/b/two && ln t/a/one t/c/same && ln -s a/one t/link && mkfifo t/fifo && head -c 5 /dev/zero > top', dir);
    expect(await contentBytes(['t', 'top'], { cwd: dir })).toBe(1000 + 234 + 5);
    expect(await contentBytes(['t'], { cwd: dir, stopped: () => true })).toBeUndefined();
  });
});
