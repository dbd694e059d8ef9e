#!/usr/bin/env node
// The `portarc` command's code in one file: dist/cli/bundle.mjs, made from dist/cli/main.js (after
// tsc) with esbuild. Node loads ~140 ES modules in ~150 ms on a 2-core machine, the bundle in ~60:
// ~0.1 s off every command (bsdtar starts in a millisecond). The library (dist/api) stays modules.
//
// The bundle lies at the depth of the modules it holds (dist/cli/, like dist/model/native.js and
// dist/api/version.js), so that their paths relative to import.meta.url (build/Release/*.node,
// package.json) are the same. CommonJS dependencies (commander, saxes) get a `require` of their
// own; the optional zstd-napi and the addons are loaded at run time, as from the modules.
// bin/portarc.js takes the bundle only when it is newer than dist/cli/main.js (a tsc run after it
// would otherwise leave the command running old code).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  entryPoints: [`${root}dist/cli/main.js`],
  outfile: `${root}dist/cli/bundle.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['zstd-napi', '*.node'],
  banner: { js: "import { createRequire as __portarcRequire } from 'node:module'; const require = __portarcRequire(import.meta.url);" },
  logLevel: 'warning',
});
