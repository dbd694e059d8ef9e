// What a restore puts on disk for an entry, as pure decisions: the profile (root/user defaults,
// --no-same-owner, --no-same-permissions, --untrusted), the owner a name maps to, the mode bits, the
// xattrs and ACLs set, the special files made. Restore (restore.ts) acts on them; `verify -C`
// (compare.ts) expects them, so both follow one rule. Spec: spec/portarc-1.md §9.1, §9.4.

import { completeAcl, effectiveMode, isTrivialAcl } from '../model/acl.js';
import type { AclEntry, Entry } from '../model/entry.js';
import { UsageError } from '../model/errors.js';
import { groupId, userId } from './users.js';

/** The options that decide what a restore restores (a subset of RestoreOptions). */
export interface ProfileOptions {
  /**
   * tar's -p: ask for everything the archive says (owners, setuid/setgid, devices, privileged
   * xattrs), also as a non-root user: what cannot be done is then a loss. Root gets it by default.
   */
  preserve?: boolean;
  /** Restore owners (default: true as root, else `preserve`). `false` is tar's --no-same-owner. */
  sameOwner?: boolean;
  /**
   * Restore setuid/setgid bits, device nodes, `security.capability` and `trusted.*` (default: true
   * as root, else `preserve`). `false` is tar's --no-same-permissions.
   */
  samePermissions?: boolean;
  /**
   * The strict profile for archives from elsewhere, Python tarfile's `data` filter (PEP 706): no
   * owners, modes within 0755 (files also u+rw, no x unless u+x), no fifos or devices, no
   * `security.capability`/`trusted.*`, symlinks pointing outside refused. Excludes the options above.
   */
  untrusted?: boolean;
  /** Map owners by numeric id only, ignoring the names in the archive. */
  numericOwner?: boolean;
  /** Unsafe, like tar's -P: keep `..` components in member paths. */
  absoluteNames?: boolean;
}

export interface Profile {
  isRoot: boolean;
  untrusted: boolean;
  /** Owners are restored (chown). */
  sameOwner: boolean;
  /** setuid/setgid, devices, `security.capability` and `trusted.*` are restored. */
  samePermissions: boolean;
  numericOwner: boolean;
}

/** tar's habit: root restores everything by default, a user what a user can (§9.4). */
export function restoreProfile(opts: ProfileOptions, isRoot = process.getuid?.() === 0): Profile {
  const untrusted = opts.untrusted === true;
  if (untrusted && (opts.preserve || opts.sameOwner || opts.samePermissions || opts.absoluteNames)) {
    throw new UsageError('untrusted (--untrusted) cannot be combined with -p, --same-owner, --same-permissions or -P');
  }
  const asked = opts.preserve === true || isRoot;
  return {
    isRoot,
    untrusted,
    samePermissions: !untrusted && (opts.samePermissions ?? asked),
    sameOwner: !untrusted && (opts.sameOwner ?? asked),
    numericOwner: opts.numericOwner === true,
  };
}

/** The owner chown gets: the archive's names mapped to local ids, else its ids (--numeric-owner: ids only). */
export function ownerOf(entry: Entry, numericOwner: boolean): { uid: number; gid: number } {
  return {
    uid: (numericOwner ? undefined : userId(entry.uname)) ?? entry.uid,
    gid: (numericOwner ? undefined : groupId(entry.gname)) ?? entry.gid,
  };
}

/**
 * The mode chmod gets (symlinks get none), and which rule of the profile changed it: with an ACL
 * mask the group bits are the mask's (spec §9.1); `untrusted` applies the data filter; without
 * samePermissions setuid/setgid are cleared.
 */
export function modeOf(entry: Entry, p: Profile, aclSet = true): { mode: number; dropped?: 'setid' | 'modes' } {
  // An access ACL that is not set leaves the mode as the header gives it, as GNU tar leaves it:
  // its mask as the group bits would grant the owning group what group:: does not (0640 → 0670).
  const mode = effectiveMode(entry.mode, aclSet ? entry.aclAccess : undefined) & 0o7777;
  if (p.untrusted) {
    const strict = dataFilterMode(entry.type, mode);
    return strict === mode ? { mode } : { mode: strict, dropped: 'modes' };
  }
  if (!p.samePermissions && mode & 0o6000) return { mode: mode & ~0o6000, dropped: 'setid' };
  return { mode };
}

/** File capabilities and trusted.* grant privileges as surely as a setuid bit: they go with it. */
export function withheldXattr(name: string, p: Profile): boolean {
  return !p.samePermissions && (name === 'security.capability' || name.startsWith('trusted.'));
}

/** The largest uid or gid this system sets (2^32 − 1 is "no change" to chown). */
export const MAX_ID = 2 ** 32 - 2;

/**
 * The ACL as restore sets it here (resolveAcl), or why it cannot be set (`cannot`: an entry without
 * an id, or one beyond MAX_ID).
 */
export function settableAcl(acl: AclEntry[], numericOwner: boolean): { acl: AclEntry[]; cannot?: undefined } | { acl?: undefined; cannot: string } {
  const { acl: resolved, unresolved } = resolveAcl(acl, numericOwner);
  if (unresolved) return { cannot: `${unresolved.tag} "${unresolved.name}" has no id here` };
  const beyond = resolved.find((e) => e.id !== undefined && !(e.id >= 0 && e.id <= MAX_ID));
  if (beyond) return { cannot: `${beyond.tag} id ${beyond.id} is beyond the ids of this system (0-${MAX_ID}); not set` };
  return { acl: resolved };
}

/**
 * An ACL as it is set: named entries mapped to local ids by name (not with --numeric-owner), and
 * a computed mask added where one is needed. `unresolved` names an entry that has no id here.
 */
export function resolveAcl(acl: AclEntry[], numericOwner: boolean): { acl: AclEntry[]; unresolved?: AclEntry } {
  const resolved = acl.map((e) => {
    if (e.tag !== 'user' && e.tag !== 'group') return e;
    const local = numericOwner ? undefined : e.tag === 'user' ? userId(e.name ?? '') : groupId(e.name ?? '');
    return { ...e, id: local ?? e.id };
  });
  const unresolved = resolved.find((e) => (e.tag === 'user' || e.tag === 'group') && e.id === undefined);
  return { acl: completeAcl(resolved), unresolved };
}

/**
 * The access ACL the kernel keeps after it is set, or undefined: an ACL of the three base entries
 * is folded into the mode bits and not stored.
 */
export function storedAccessAcl(acl: AclEntry[] | undefined): AclEntry[] | undefined {
  return acl?.length && !isTrivialAcl(acl) ? acl : undefined;
}

/**
 * The access ACL on disk once restore is done: as set (resolveAcl), then restore's chmod, which
 * makes the mask the mode's group bits (the same as the mask, unless the profile lowered the mode).
 */
export function accessAclOf(entry: Entry, p: Profile): AclEntry[] | undefined {
  if (!entry.aclAccess?.length) return undefined;
  const group = (modeOf(entry, p).mode >> 3) & 7;
  return storedAccessAcl(resolveAcl(entry.aclAccess, p.numericOwner).acl.map((e) => (e.tag === 'mask' ? { ...e, perm: group } : e)));
}

/** Why a fifo or device node is not made under this profile, or undefined when it is. */
export function specialRefused(type: Entry['type'], p: Profile): { what: 'entry' | 'device'; reason: string } | undefined {
  if (type !== 'fifo' && type !== 'chardev' && type !== 'blockdev') return undefined;
  // PEP 706's data filter refuses special files, fifos included.
  if (p.untrusted) return { what: 'entry', reason: `${type === 'fifo' ? 'fifo' : 'device node'} refused by --untrusted` };
  if (type === 'fifo') return undefined;
  if (!p.isRoot) return { what: 'device', reason: 'device nodes can only be made by root' };
  if (!p.samePermissions) return { what: 'device', reason: 'device node not made (--no-same-permissions)' };
  return undefined;
}

/**
 * PEP 706's `data` filter on a mode: no setuid/setgid/sticky and no group/other write; a file (or
 * hardlink) also gets u+rw, and loses every x bit unless the owner has x. Directories keep their
 * bits within 0755 (PEP 706 leaves them at the umask default, which could open a private 0700 one).
 */
export function dataFilterMode(type: Entry['type'], mode: number): number {
  let m = mode & 0o755;
  if (type === 'file' || type === 'hardlink') {
    if (!(m & 0o100)) m &= ~0o111;
    m |= 0o600;
  }
  return m;
}
