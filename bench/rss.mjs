#!/usr/bin/env node
// Run the portarc CLI (from dist/) and report its peak resident memory on stderr as
// "portarc-maxrss-kib N" when it exits. Used by the memory test and the benchmarks.
import { main } from '../dist/cli/main.js';

process.on('exit', () => process.stderr.write(`portarc-maxrss-kib ${process.resourceUsage().maxRSS}\n`));
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
