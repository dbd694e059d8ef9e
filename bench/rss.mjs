#!/usr/bin/env node
// Run the portarc CLI (from dist/) and report its peak resident memory on stderr as
// "portarc-maxrss-kib N" when it exits. Used by the memory test and the benchmarks.
//
// On Linux the peak is VmHWM of /proc/self/status: this process's own high-water mark.
// getrusage's ru_maxrss (process.resourceUsage().maxRSS) survives execve. A child forked from a
// large parent, such as a test process that just read a 200 MB file, starts with the parent's
// resident size as its "peak": 212 MiB reported for a repair that peaked at 84.
import { readFileSync } from 'node:fs';
import { main } from '../dist/cli/main.js';

function peakKib() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // Not Linux: getrusage's figure.
  }
  return process.resourceUsage().maxRSS;
}

process.on('exit', () => process.stderr.write(`portarc-maxrss-kib ${peakKib()}\n`));
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
