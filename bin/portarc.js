#!/usr/bin/env node
// Entry point of the `portarc` command; the code lives in dist/cli (built by `npm run build`).
// Not a top-level await: should the work ever stall, main() says so itself (one line, exit 2)
// and Node adds no warning of its own.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
