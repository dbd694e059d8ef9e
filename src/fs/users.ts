// User and group names ↔ ids, from /etc/passwd and /etc/group. Node has no getpwuid; the files
// cover local accounts, which is what a restore maps names onto (NSS/LDAP accounts fall back to ids).

import { readFileSync } from 'node:fs';

interface Table {
  byId: Map<number, string>;
  byName: Map<string, number>;
}

function load(file: string): Table {
  const t: Table = { byId: new Map(), byName: new Map() };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return t; // No such file (Windows, minimal containers): every lookup misses.
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (!name || id === undefined || !/^\d+$/.test(id)) continue;
    const n = Number(id);
    if (!t.byId.has(n)) t.byId.set(n, name);
    if (!t.byName.has(name)) t.byName.set(name, n);
  }
  return t;
}

let users: Table | undefined;
let groups: Table | undefined;
const u = () => (users ??= load('/etc/passwd'));
const g = () => (groups ??= load('/etc/group'));

export const userName = (uid: number): string => u().byId.get(uid) ?? '';
export const groupName = (gid: number): string => g().byId.get(gid) ?? '';
export const userId = (name: string): number | undefined => (name ? u().byName.get(name) : undefined);
export const groupId = (name: string): number | undefined => (name ? g().byName.get(name) : undefined);
