// Restore entries onto disk: contents, modes, owners, xattrs, SELinux labels, ACLs, links, fifos,
// devices and nanosecond times; directories' metadata after their contents. Whatever cannot be
// restored is reported per entry, never dropped silently. Spec: spec/portarc-1.md §9 (restore).

import { chmod, lchown, link, lstat, mkdir, open, rm, symlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { encodeAclXattr } from '../model/acl.js';
import type { AclEntry, Entry } from '../model/entry.js';
import { loadSys, type Sys } from './sys.js';
import { groupId, userId } from './users.js';

export interface RestoreOptions {
  /** Restore owners (default: when running as root, like GNU tar). */
  sameOwner?: boolean;
  /** Map owners by numeric id only, ignoring the names in the archive. */
  numericOwner?: boolean;
  sys?: Sys;
}

/** Something the archive holds that could not be put on disk. */
export interface Loss {
  path: string;
  what: 'owner' | 'xattr' | 'selinux' | 'acl' | 'device' | 'time' | 'entry' | 'mode';
  reason: string;
}

interface Deferred {
  abs: Buffer;
  entry: Entry;
}

const SLASH = 0x2f;

export class Restorer {
  readonly losses: Loss[] = [];
  readonly warnings: string[] = [];
  private sys: Sys;
  private root: Buffer;
  private sameOwner: boolean;
  private dirs: Deferred[] = [];
  /** Symlinks this extraction created: nothing may be written through them. */
  private links = new Set<string>();
  private pendingXattrs: Array<{ path: Buffer; name: string; value: Buffer; entry: string; what: Loss['what'] }> = [];

  constructor(
    dest: string,
    private opts: RestoreOptions = {},
  ) {
    this.root = Buffer.from(resolve(dest));
    this.sys = opts.sys ?? loadSys();
    this.sameOwner = opts.sameOwner ?? process.getuid?.() === 0;
  }

  private lose(entry: Entry, what: Loss['what'], reason: string): void {
    this.losses.push({ path: entry.name, what, reason });
  }

  /**
   * Where an archive path lands under the destination, or undefined if it must not be extracted.
   * Leading slashes are stripped (with a warning, as tar does); `..` components are refused.
   */
  target(path: Buffer, entry: Entry): Buffer | undefined {
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i <= path.length; i++) {
      if (i === path.length || path[i] === SLASH) {
        const part = path.subarray(start, i);
        start = i + 1;
        if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
        if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) {
          this.lose(entry, 'entry', 'path contains ".."; not extracted');
          return undefined;
        }
        parts.push(part);
      }
    }
    if (path[0] === SLASH) this.warnings.push(`${entry.name}: leading "/" removed`);
    let prefix = '';
    for (const part of parts.slice(0, -1)) {
      prefix += (prefix ? '/' : '') + part.toString('latin1');
      if (this.links.has(prefix)) {
        this.lose(entry, 'entry', 'path leads through a symlink extracted earlier; not extracted');
        return undefined;
      }
    }
    if (parts.length === 0) return this.root;
    return Buffer.concat([this.root, ...parts.flatMap((p) => [Buffer.from('/'), p])]);
  }

  async restore(entry: Entry, body?: AsyncIterable<Buffer>): Promise<void> {
    const abs = this.target(entry.path, entry);
    if (!abs) return;
    const rel = abs.subarray(this.root.length + 1).toString('latin1');
    try {
      if (entry.type === 'directory') {
        await this.makeDir(abs);
        this.dirs.push({ abs, entry });
        return;
      }
      await this.makeParents(abs);
      await removeExisting(abs);
      switch (entry.type) {
        case 'file':
          await this.writeFile(abs, entry, body);
          break;
        case 'symlink':
          await symlink(entry.linkTarget ?? Buffer.alloc(0), abs);
          this.links.add(rel);
          break;
        case 'hardlink': {
          const target = entry.linkTarget && this.target(entry.linkTarget, entry);
          if (!target) return;
          await link(target, abs);
          return; // The link shares the inode, and with it all metadata, with its target.
        }
        case 'fifo':
        case 'chardev':
        case 'blockdev':
          if (entry.type !== 'fifo' && process.getuid?.() !== 0) {
            this.lose(entry, 'device', 'device nodes can only be made by root');
            return;
          }
          this.sys.mknod(abs, entry.type, 0o600, entry.devMajor ?? 0, entry.devMinor ?? 0);
          break;
      }
      await this.applyMetadata(abs, entry);
    } catch (err) {
      this.lose(entry, 'entry', `not extracted: ${(err as Error).message}`);
    }
  }

  private async makeDir(abs: Buffer): Promise<void> {
    const st = await lstat(abs).catch(() => undefined);
    if (st?.isDirectory()) return;
    if (st) await rm(abs);
    await this.makeParents(abs);
    await mkdir(abs, { mode: 0o700 });
  }

  /** Parents missing from the archive are made as tar makes them: plain 0755 directories. */
  private async makeParents(abs: Buffer): Promise<void> {
    const slash = abs.lastIndexOf(SLASH);
    if (slash <= this.root.length) return;
    await mkdir(abs.subarray(0, slash), { recursive: true });
  }

  private async writeFile(abs: Buffer, entry: Entry, body?: AsyncIterable<Buffer>): Promise<void> {
    const fh = await open(abs, 'wx', 0o600);
    try {
      if (entry.sparse) {
        // Runs go to their offsets; the gaps stay holes. The file is then cut to its real size.
        let run = 0;
        let done = 0;
        const runs = entry.sparse;
        for await (const part of body ?? []) {
          let off = 0;
          while (off < part.length) {
            while (run < runs.length && done >= runs[run]!.length) {
              run++;
              done = 0;
            }
            if (run >= runs.length) break;
            const take = Math.min(part.length - off, runs[run]!.length - done);
            await fh.write(part, off, take, runs[run]!.offset + done);
            off += take;
            done += take;
          }
        }
        await fh.truncate(entry.size);
      } else {
        for await (const part of body ?? []) await fh.write(part);
      }
    } finally {
      await fh.close();
    }
  }

  private async applyMetadata(abs: Buffer, entry: Entry, deferredAcl = false): Promise<void> {
    const isLink = entry.type === 'symlink';
    if (this.sameOwner) {
      const byName = !this.opts.numericOwner;
      const uid = (byName ? userId(entry.uname) : undefined) ?? entry.uid;
      const gid = (byName ? groupId(entry.gname) : undefined) ?? entry.gid;
      await lchown(abs, uid, gid).catch((e: Error) => this.lose(entry, 'owner', e.message));
    }
    for (const [name, value] of entry.xattrs) this.queueXattr(abs, entry, name, value, 'xattr');
    if (entry.selinux) this.queueXattr(abs, entry, 'security.selinux', Buffer.from(entry.selinux + '\0'), 'selinux');
    this.queueAcl(abs, entry, 'system.posix_acl_access', entry.aclAccess);
    if (deferredAcl) this.queueAcl(abs, entry, 'system.posix_acl_default', entry.aclDefault);
    else if (entry.aclDefault?.length) this.lose(entry, 'acl', 'only directories carry default ACLs');
    if (this.sys.kind === 'native' || this.pendingXattrs.length > 2000) await this.flushXattrs();
    // chmod after chown (chown clears setuid/setgid) and after the ACL (which rewrites group bits).
    // With an ACL mask, the group bits of st_mode are the mask: take them from the ACL, since
    // bsdtar stores the group:: entry's bits in the mode field and chmod would overwrite the mask.
    const mask = entry.aclAccess?.find((e) => e.tag === 'mask');
    const mode = mask ? (entry.mode & ~0o070) | ((mask.perm & 7) << 3) : entry.mode;
    if (!isLink) await chmod(abs, mode & 0o7777).catch((e: Error) => this.lose(entry, 'mode', e.message));
    if (this.setTimes(abs, entry) === 'microseconds') this.lose(entry, 'time', 'times rounded to microseconds (no native addon)');
  }

  private setTimes(abs: Buffer, entry: Entry): 'exact' | 'microseconds' | undefined {
    try {
      return this.sys.setTimes(abs, entry.atimeNs ?? entry.mtimeNs, entry.mtimeNs);
    } catch (err) {
      this.lose(entry, 'time', (err as Error).message);
      return undefined;
    }
  }

  private queueXattr(abs: Buffer, entry: Entry, name: string, value: Buffer, what: Loss['what']): void {
    this.pendingXattrs.push({ path: abs, name, value, entry: entry.name, what });
  }

  private queueAcl(abs: Buffer, entry: Entry, name: string, acl: AclEntry[] | undefined): void {
    if (!acl?.length) return;
    const resolved = acl.map((e) => {
      if (e.tag !== 'user' && e.tag !== 'group') return e;
      const local = this.opts.numericOwner ? undefined : e.tag === 'user' ? userId(e.name ?? '') : groupId(e.name ?? '');
      return { ...e, id: local ?? e.id };
    });
    const unresolved = resolved.find((e) => (e.tag === 'user' || e.tag === 'group') && e.id === undefined);
    if (unresolved) {
      this.lose(entry, 'acl', `${name}: ${unresolved.tag} "${unresolved.name}" has no id here`);
      return;
    }
    this.queueXattr(abs, entry, name, encodeAclXattr(resolved), 'acl');
  }

  private async flushXattrs(): Promise<void> {
    const items = this.pendingXattrs.splice(0);
    if (!items.length) return;
    const failures = await this.sys.setXattrs(items);
    for (const f of failures) {
      const item = items.find((i) => i.path.equals(f.path) && i.name === f.name);
      this.losses.push({ path: item?.entry ?? f.path.toString(), what: item?.what ?? 'xattr', reason: `${f.name}: ${f.error}` });
    }
  }

  /** Directories last and deepest first, so that writing their contents cannot disturb them. */
  async finish(): Promise<void> {
    await this.flushXattrs();
    const dirs = this.dirs.splice(0).sort((a, b) => b.abs.length - a.abs.length);
    for (const d of dirs) await this.applyMetadata(d.abs, d.entry, true).catch((e: Error) => this.lose(d.entry, 'entry', e.message));
    await this.flushXattrs();
    // The fallback sets xattrs in batches after times; setting an xattr changes ctime only.
  }
}

async function removeExisting(abs: Buffer): Promise<void> {
  const st = await lstat(abs).catch(() => undefined);
  if (st) await rm(abs, { recursive: st.isDirectory() });
}
