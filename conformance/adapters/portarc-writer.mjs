#!/usr/bin/env node
// Reference writer adapter of the portarc conformance suite (writer protocol: conformance/README.md).
// Reads a tree description (JSON) on stdin and writes the archive portarc makes of it on stdout,
// through the library's create() with entries in memory (no files on disk, so no root needed).
// Exit 0: written; 2: the tree cannot be written (message on stderr); 3: internal error.
// Needs the built library: `npx tsc -p tsconfig.json` makes dist/.

const { create, makeEntry, PortarcError } = await import('../../dist/api/index.js').catch((err) => {
  process.stderr.write(`portarc writer: cannot load dist/api/index.js (run \`npx tsc -p tsconfig.json\` first): ${err.message}\n`);
  process.exit(3);
});

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const tree = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const bytes = (text, b64) => (b64 !== undefined ? Buffer.from(b64, 'base64') : text !== undefined ? Buffer.from(text, 'utf8') : undefined);

/** One tree entry (canonical keys, plus `content` or `data` runs for files) as a ScannedEntry. */
function scanned(t) {
  const runs = t.data?.map((r) => ({ offset: r.offset, content: Buffer.from(r.content, 'base64') }));
  const content = t.type === 'file' && !runs ? Buffer.from(t.content ?? '', 'base64') : undefined;
  const entry = makeEntry({
    path: bytes(t.path, t.pathBase64),
    type: t.type,
    mode: t.mode,
    uid: t.uid,
    gid: t.gid,
    uname: t.uname ?? '',
    gname: t.gname ?? '',
    mtimeNs: BigInt(t.mtimeNs),
    size: t.type !== 'file' ? 0 : runs ? t.size : content.length,
    linkTarget: bytes(t.linkTarget, t.linkTargetBase64),
    devMajor: t.devMajor,
    devMinor: t.devMinor,
    xattrs: new Map(Object.entries(t.xattrs ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    selinux: t.selinux,
    aclAccess: t.aclAccess,
    aclDefault: t.aclDefault,
    sparse: runs?.map((r) => ({ offset: r.offset, length: r.content.length })),
  });
  const data = content ?? (runs ? Buffer.concat(runs.map((r) => r.content)) : undefined);
  return { entry, body: data && (async function* () { if (data.length) yield data; }) };
}

const format = tree.format ?? 'tar';
try {
  await create(tree.entries.map(scanned), '-', {
    format: format === 'zip' ? 'zip' : 'tar',
    compression: format === 'tar.gz' ? 'gzip' : format === 'tar.zst' ? 'zstd' : 'none',
    manifest: tree.manifest ?? true,
    threads: 1,
  });
} catch (err) {
  process.stderr.write(`portarc writer: ${err?.message ?? err}\n`);
  process.exit(err instanceof PortarcError ? 2 : 3);
}
