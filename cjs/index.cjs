// CommonJS entry of portarc (`require('portarc')`). portarc is an ES module; Node loads it from
// require() synchronously since 20.19 and 22.12 (require(esm)), so this hands out the very same
// module (one copy: `instanceof PortarcError` holds across require and import). On an older Node
// require(esm) is missing: the error says to use `await import('portarc')`, which works everywhere.
'use strict';

try {
  module.exports = require('../dist/api/index.js');
} catch (err) {
  if (err && (err.code === 'ERR_REQUIRE_ESM' || err.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
    throw new Error(
      `portarc is an ES module and this Node (${process.version}) cannot require() one: ` +
        "use `const portarc = await import('portarc')` (works in CommonJS too), or Node >= 20.19 / 22.12",
      { cause: err },
    );
  }
  throw err;
}
