#!/usr/bin/env node
// Entry point of the `portarc` command; the code lives in dist/cli (built by `npm run build`):
// the one-file bundle when it is there and newer than the modules (scripts/bundle-cli.mjs: it
// loads ~0.1 s faster), else the modules themselves.
// Not a top-level await for the work: should it ever stall, main() says so itself (one line,
// exit 2) and Node adds no warning of its own.
import { statSync } from 'node:fs';

const dist = new URL('../dist/cli/', import.meta.url);
const mtime = (name) => statSync(new URL(name, dist), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime('bundle.mjs') >= mtime('main.js');
const { main } = await import(bundled ? '../dist/cli/bundle.mjs' : '../dist/cli/main.js');

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
