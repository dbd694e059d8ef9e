// The Node options a worker thread of ours starts with (hash-ring.ts, par2/parity.ts, compress/pool.ts).
//
// Our workers run CommonJS source given as text (`eval: true`), so a parent started with
// --input-type=module must not pass that on. And the CLI starts itself with a young-generation
// size (cli/relaunch.ts), a V8 flag that Worker refuses when given explicitly: workers size their
// own heaps through `resourceLimits`.

const dropped = (a: string) => a.startsWith('--input-type') || a.startsWith('--max-semi-space-size');

/** `execArgv` for `new Worker`: undefined (inherit the parent's as they are) unless some must go. */
export function workerExecArgv(): string[] | undefined {
  return process.execArgv.some(dropped) ? process.execArgv.filter((a) => !dropped(a)) : undefined;
}
