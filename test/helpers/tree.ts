// A source tree holding every kind of metadata portarc must carry, and a snapshot of any tree taken
// with independent tools (lstat, readlink, getfattr), so that restored trees can be compared.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

export const isRoot = process.getuid?.() === 0;

const made: string[] = [];

/** A fresh directory under the system's temp dir, removed after the test file (test/setup.ts). */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `portarc-${tag}-`));
  made.push(dir);
  return dir;
}

/** Remove the temp dirs this test file made (some hold GiBs); PORTARC_KEEP_TEMP=1 keeps them. */
export function removeTempDirs(): void {
  if (process.env.PORTARC_KEEP_TEMP === '1') return;
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export function sh(script: string, cwd?: string): string {
  return execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, encoding: 'utf8' });
}

/** The non-UTF-8 file name used in the tree: "bad-" + 0xff 0xfe + ".bin". */
export const BAD_NAME = Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.bin')]);
/** A path of exactly 300 bytes under the tree root. */
export const LONG_PATH = ['long', 'a'.repeat(95), 'b'.repeat(95), 'c'.repeat(95)].join('/').padEnd(300, 'z');

export interface TreeOptions {
  /** Metadata only root can make: owners, devices. */
  root?: boolean;
  /** SELinux labels, ACLs and user xattrs (off for formats that cannot carry them). */
  rich?: boolean;
}

/** Build the reference tree under `dir/src` and return its path. */
export function buildTree(dir: string, opts: TreeOptions = {}): string {
  const root = opts.root ?? isRoot;
  const rich = opts.rich ?? true;
  const src = join(dir, 'src');
  mkdirSync(src);
  sh(
    `
    mkdir -p d/sub acl-dir sticky
    printf 'hello portarc\\n' > d/hello.txt
    head -c 200000 /dev/urandom > d/random.bin
    : > d/empty
    printf 'linked' > d/hard1 && ln d/hard1 d/hard2
    ln -s hello.txt d/link-to-hello
    ln -s ../nowhere d/dangling
    mkfifo d/fifo
    chmod 0640 d/hello.txt
    chmod 4755 d/random.bin
    chmod 1777 sticky
    mkdir -p "$(dirname '${LONG_PATH}')" && printf 'long path' > '${LONG_PATH}'
    printf 'before 1970' > d/old && touch -h -d @-86400123.5 d/old
    printf 'ns' > d/ns && touch -h -d @1700000000.123456789 d/ns
    `,
    src,
  );
  writeFileSync(Buffer.concat([Buffer.from(src + '/d/'), BAD_NAME]), 'not utf-8');
  if (root) {
    sh(`mknod d/null c 1 3 && mknod d/loop b 7 200 && chown 1234:2345 d/hello.txt && chown -h 4321:5432 d/link-to-hello`, src);
  }
  if (rich) {
    sh(
      `
      printf 'xattrs' > d/xattrs
      setfattr -n user.binary -v 0x00ff0a3d0001 d/xattrs
      setfattr -n user.text -v 'plain text' d/xattrs
      setfattr -n user.empty d/xattrs
      setfattr -n user.dir -v 0xdeadbeef d/sub
      setfattr -n security.selinux -v 'system_u:object_r:etc_t:s0' d/hello.txt
      setfattr -n security.selinux -v 'system_u:object_r:var_t:s0' d/sub
      setfattr -h -n security.selinux -v 'system_u:object_r:tmp_t:s0' d/link-to-hello
      setfacl -m u:1234:rwx,g:2345:r-x,m::rwx acl-dir
      setfacl -d -m u::rwx,u:1234:r-x,g::r-x,m::r-x,o::- acl-dir
      setfacl -m u:4321:rw- d/ns
      `,
      src,
    );
  }
  // Times last: making entries inside a directory changes its mtime.
  sh(`touch -h -d @1600000000.987654321 d/sub && touch -h -d @1500000000.5 d`, src);
  return src;
}

export interface Node {
  type: string;
  mode: string;
  uid?: number;
  gid?: number;
  size?: number;
  sha256?: string;
  link?: string;
  rdev?: string;
  mtimeNs?: string;
  xattrs?: Record<string, string>;
  /** Paths sharing this inode (hardlinks), for regular files with nlink > 1. */
  links?: string[];
}

export interface SnapshotOptions {
  /** Compare mtimes to this many ns (1 = exact, 1e9 = seconds), rounded down (toward −∞). */
  mtimeGrain?: bigint;
  owners?: boolean;
  xattrs?: boolean;
  /** Skip directory mtimes (tools that do not restore them). */
  dirTimes?: boolean;
}

const TYPES: Record<number, string> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink', 0o010000: 'fifo', 0o020000: 'chardev', 0o060000: 'blockdev' };

/** Key for a relative path: UTF-8 text when valid, hex of the bytes otherwise. */
function key(rel: Buffer): string {
  return Buffer.from(rel.toString('utf8')).equals(rel) ? rel.toString('utf8') : 'hex:' + rel.toString('hex');
}

/** Every object under root, keyed by relative path, with what a restore must preserve. */
export function snapshot(root: string, opts: SnapshotOptions = {}): Record<string, Node> {
  const grain = opts.mtimeGrain ?? 1n;
  const out: Record<string, Node> = {};
  const inodes = new Map<bigint, string[]>();
  const xattrs = opts.xattrs === false ? new Map() : readAllXattrs(root);
  const walk = (abs: Buffer, rel: Buffer) => {
    const st = lstatSync(abs, { bigint: true });
    const type = TYPES[Number(st.mode & 0o170000n)] ?? 'other';
    const k = rel.length ? key(rel) : '.';
    const node: Node = { type, mode: (st.mode & 0o7777n).toString(8) };
    if (opts.owners !== false) Object.assign(node, { uid: Number(st.uid), gid: Number(st.gid) });
    // Floor, not truncation toward zero: tar formats round times before 1970 down as well.
    if (!(type === 'dir' && opts.dirTimes === false)) node.mtimeNs = (floorDiv(st.mtimeNs, grain) * grain).toString();
    if (type === 'symlink') {
      node.link = readlinkSync(abs, { encoding: 'buffer' }).toString('hex');
      delete node.mode;
    }
    if (type === 'file') {
      node.size = Number(st.size);
      node.sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
      if (st.nlink > 1n) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), k]);
    }
    if (type === 'chardev' || type === 'blockdev') node.rdev = st.rdev.toString();
    const x = xattrs.get(abs.toString('latin1'));
    if (x && Object.keys(x).length) node.xattrs = x;
    out[k] = node;
    if (type === 'dir') {
      for (const name of readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare)) {
        walk(Buffer.concat([abs, Buffer.from('/'), name]), rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
      }
    }
  };
  walk(Buffer.from(root), Buffer.alloc(0));
  for (const paths of inodes.values()) for (const p of paths) out[p]!.links = paths;
  return out;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

/** getfattr over the whole tree in one run: absolute path (latin1) → name → hex value. */
function readAllXattrs(root: string): Map<string, Record<string, string>> {
  const r = spawnSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], { encoding: 'latin1', maxBuffer: 1 << 28 });
  const map = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      const path = line.slice(8).replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))).replace(/\\\\/g, '\\');
      current = {};
      map.set(path, current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      let value = line.slice(eq + 1);
      const name = line.slice(0, eq);
      // SELinux stores C strings: a trailing NUL is an encoding detail, not part of the label.
      if (name === 'security.selinux') value = value.replace(/(00)+$/, '');
      current[name] = value;
    } else if (current && line.trim() && !line.startsWith('#')) {
      current[line.trim()] = '';
    }
  }
  return map;
}

/** Everything under a directory: relative path → content or link target, for before/after checks. */
export function listing(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[r + '/'] = '';
        walk(p, r);
      } else out[r] = st.isSymbolicLink() ? '-> ' : readFileSync(p, 'latin1');
    }
  };
  walk(root, '');
  return out;
}

/** The files create is writing (or left) beside `archive`: NAME.PID.partial (spec §8.5). */
export function partialsOf(archive: string): string[] {
  const base = basename(archive);
  return readdirSync(dirname(archive)).filter((n) => n.startsWith(`${base}.`) && n.endsWith('.partial')).map((n) => join(dirname(archive), n));
}
