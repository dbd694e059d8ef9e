// Runs with every test file (vitest.config.ts setupFiles): the temp dirs a file made are removed
// after it, so that a full run does not leave tens of GiB behind (the progress, zip64 and
// interrupt tests write GiB-sized files).
import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers/tree.js';

afterAll(() => removeTempDirs());
