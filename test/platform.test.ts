// The platform adapters' rules (spec §9.7), checked on every platform: the Windows name rule
// (every forbidden character, control characters, trailing dots and spaces, device names, bytes
// that are not UTF-8, the escape range itself) is a bijection; `..\` and drive letters are refused;
// the Windows and macOS adapters report what they cannot hold, per entry, when a real archive is
// extracted here through them, and a scan through the Windows adapter gives the original names back.
import { lstatSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extract } from '../src/api/extract.js';
import { verifyTree } from '../src/api/verify-tree.js';
import { scan } from '../src/fs/scan.js';
import { LINUX, MACOS, platformFor, WINDOWS } from '../src/fs/platform.js';
import { fromWindowsName, fromWindowsTarget, isReservedName, toWindowsName, toWindowsTarget, WINDOWS_FORBIDDEN, windowsTraversal } from '../src/fs/winnames.js';
import { makeEntry, type Entry } from '../src/model/entry.js';
import { tarOf } from './helpers/archive.js';
import { tempDir } from './helpers/tree.js';
import { writeFileSync } from 'node:fs';

const esc = (c: string | number) => String.fromCharCode(0xf000 + (typeof c === 'number' ? c : c.charCodeAt(0)));
const win = (name: string | Buffer) => toWindowsName(typeof name === 'string' ? Buffer.from(name) : name);
const back = (name: string | Buffer) => {
  const b = typeof name === 'string' ? Buffer.from(name) : name;
  expect(fromWindowsName(toWindowsName(b)).equals(b), `round trip of ${b.toString('hex')}`).toBe(true);
};

/** What Windows refuses in a file name: any of these in a mapped name would be a bug. */
function windowsAccepts(name: string): boolean {
  if ([...name].some((c) => c.charCodeAt(0) < 0x20 || WINDOWS_FORBIDDEN.includes(c) || c === '/')) return false;
  if (/[. ]$/.test(name) || isReservedName(name)) return false;
  return !/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')); // no lone surrogates
}

describe('the Windows name rule', () => {
  it('maps every forbidden printable character to U+F000 + its byte, and back', () => {
    expect(WINDOWS_FORBIDDEN).toBe('<>:"\\|?*');
    for (const c of WINDOWS_FORBIDDEN) {
      expect(win(`a${c}b`)).toBe(`a${esc(c)}b`);
      back(`a${c}b`);
    }
    expect(win('e:f')).toBe('e\uf03af');
    expect(win('back\\slash')).toBe('back\uf05cslash');
  });

  it('maps every control character (0x01-0x1f) and keeps DEL and other printable ASCII', () => {
    for (let b = 1; b < 0x20; b++) {
      expect(win(Buffer.from([0x78, b, 0x79]))).toBe(`x${esc(b)}y`);
      back(Buffer.from([0x78, b, 0x79]));
    }
    const printable = Array.from({ length: 0x7f - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => c !== '/' && !WINDOWS_FORBIDDEN.includes(c));
    expect(win(`x${printable.join('')}x`)).toBe(`x${printable.join('')}x`);
  });

  it('maps each trailing dot and space, and only trailing ones', () => {
    expect(win('name.')).toBe(`name${esc('.')}`);
    expect(win('name ')).toBe(`name${esc(' ')}`);
    expect(win('name. .')).toBe(`name${esc('.')}${esc(' ')}${esc('.')}`);
    expect(win('...')).toBe(esc('.').repeat(3));
    for (const kept of ['.hidden', 'a.b', ' lead', 'a b', 'a..b', '.a.']) expect(win(kept).startsWith(kept.replace(/[. ]+$/, ''))).toBe(true);
    expect(win('.hidden')).toBe('.hidden');
    expect(win('.a.')).toBe(`.a${esc('.')}`);
    for (const n of ['name.', 'name ', 'name. .', '...', ' ', '.a.']) back(n);
  });

  it('maps device names, any case, with or without extension, by escaping their first letter', () => {
    const reserved = ['CON', 'PRN', 'AUX', 'NUL', 'CONIN$', 'CONOUT$', ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((d) => [`COM${d}`, `LPT${d}`]), 'COM\u00b9', 'LPT\u00b3'];
    for (const r of reserved) {
      for (const name of [r, r.toLowerCase(), `${r}.txt`, `${r.toLowerCase()}.tar.gz`, `${r} .txt`]) {
        expect(isReservedName(name), name).toBe(true);
        expect(win(name), name).toBe(esc(name[0]!) + name.slice(1));
        back(name);
      }
    }
    expect(win('CON')).toBe('\uf043ON');
    expect(win('nul.txt')).toBe('\uf06eul.txt');
    // A trailing dot escaped leaves no device name ("CON<U+F02E>" is not CON on Windows).
    expect(win('CON.')).toBe(`CON${esc('.')}`);
    expect(win('CON. ')).toBe(`CON${esc('.')}${esc(' ')}`);
    back('CON.');
    for (const ok of ['CONSOLE', 'CON_', 'COM10', 'LPT', 'xCON', 'NUL_.txt', 'con-fig', 'AUXILIARY.c', '.CON', 'CONIN', 'CONOUT$x']) {
      expect(isReservedName(ok), ok).toBe(false);
      expect(win(ok)).toBe(ok);
    }
  });

  it('keeps valid UTF-8 (NFC, NFD, 4-byte) and maps bytes that are not UTF-8 to U+F080..U+F0FF', () => {
    for (const ok of ['caf\u00e9', 'cafe\u0301', '\u{1f600}.txt', '\u65e5\u672c']) expect(win(ok)).toBe(ok);
    expect(win(Buffer.from([0xff, 0x41, 0xc3]))).toBe(`${esc(0xff)}A${esc(0xc3)}`);
    // Overlong, surrogate, beyond U+10FFFF, stray continuation: each byte escaped.
    for (const bad of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82]]) {
      expect(win(Buffer.from(bad))).toBe(bad.map((b) => esc(b)).join(''));
      back(Buffer.from(bad));
    }
  });

  it('writes a character already in the escape range as its escaped UTF-8 bytes, so it reads back as itself', () => {
    const name = Buffer.from('x\uf03ay');
    expect(win(name)).toBe(`x${esc(0xef)}${esc(0x80)}${esc(0xba)}y`);
    back(name);
    expect(fromWindowsName(win(name)).toString('utf8')).toBe('x\uf03ay');
    back('\uf000\uf0ff\uf100');
  });

  it('is a bijection that Windows accepts: 20000 random names come back byte for byte', () => {
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    const pool = [...Buffer.from('aZ.. <>:"\\|?*\t\x01CON\u00e9\uf03a\u{1f600}'), 0xff, 0x80, 0xc3, 0xed, 0xa0];
    const seen = new Map<string, string>();
    for (let i = 0; i < 20000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + rand(12) }, () => (rand(3) ? pool[rand(pool.length)]! : 1 + rand(254))).filter((b) => b !== 0x2f));
      if (!bytes.length || bytes.toString('latin1') === '.' || bytes.toString('latin1') === '..') continue;
      const name = toWindowsName(bytes);
      expect(windowsAccepts(name), `${bytes.toString('hex')} -> ${JSON.stringify(name)}`).toBe(true);
      expect(fromWindowsName(name).equals(bytes), bytes.toString('hex')).toBe(true);
      const other = seen.get(name);
      expect(other === undefined || other === bytes.toString('hex')).toBe(true);
      seen.set(name, bytes.toString('hex'));
    }
  });

  it('refuses `..\\`, drive letters and UNC paths as traversal; maps other backslashes', () => {
    for (const bad of ['..\\x', 'a\\..\\..\\x', 'a/..\\x', 'C:x', 'c:\\windows\\x', '/C:/x', '\\\\server\\share\\x', '..']) {
      expect(windowsTraversal(Buffer.from(bad)), bad).toMatch(/traversal/);
    }
    for (const ok of ['a\\b', 'a..b\\c', '...\\x', './e:f', 'dir/C:x', '\\x']) expect(windowsTraversal(Buffer.from(ok)), ok).toBeUndefined();
  });

  it('maps symlink targets component by component, keeping . and .. and joining with \\', () => {
    expect(toWindowsTarget(Buffer.from('../d:x/CON'))).toBe('..\\d\uf03ax\\\uf043ON');
    expect(toWindowsTarget(Buffer.from('./a.'))).toBe(`.\\a${esc('.')}`);
    expect(toWindowsTarget(Buffer.from('/etc/passwd'))).toBe('\\etc\\passwd');
    for (const t of ['../d:x/CON', './a.', '/etc/passwd', 'plain']) expect(fromWindowsTarget(toWindowsTarget(Buffer.from(t))).toString()).toBe(t);
  });
});

describe('the macOS and Linux rules', () => {
  it('the adapter is chosen by process.platform', () => {
    expect(platformFor('win32')).toBe(WINDOWS);
    expect(platformFor('darwin')).toBe(MACOS);
    expect(platformFor('linux')).toBe(LINUX);
    expect(platformFor('freebsd')).toBe(LINUX);
  });

  it('macOS folds case and Unicode normalisation (NFC and NFD are one name); Windows folds case only', () => {
    expect(MACOS.foldKey('Caf\u00e9')).toBe(MACOS.foldKey('cafe\u0301'));
    expect(MACOS.foldKey('README')).toBe(MACOS.foldKey('readme'));
    expect(WINDOWS.foldKey('README')).toBe(WINDOWS.foldKey('readme'));
    expect(WINDOWS.foldKey('caf\u00e9')).not.toBe(WINDOWS.foldKey('cafe\u0301'));
    // NTFS upcases one character to one: ß and SS, ﬀ and ff are two names there (they were refused
    // as a collision through String#toUpperCase, which expands them).
    expect(WINDOWS.foldKey('stra\u00dfe')).not.toBe(WINDOWS.foldKey('STRASSE'));
    expect(WINDOWS.foldKey('\ufb00')).not.toBe(WINDOWS.foldKey('ff'));
    expect(WINDOWS.foldKey('\u00e9t\u00e9')).toBe(WINDOWS.foldKey('\u00c9T\u00c9'));
    // Mapped names of two device-name spellings stay apart, as on NTFS (its upcase table leaves U+F0xx alone).
    expect(WINDOWS.foldKey(win('CON'))).not.toBe(WINDOWS.foldKey(win('con')));
  });

  it('macOS keeps com.apple.* and user.* xattrs, reports SELinux, POSIX ACLs and Linux-only namespaces', () => {
    for (const kept of ['com.apple.quarantine', 'com.apple.ResourceFork', 'com.apple.FinderInfo', 'user.comment']) expect(MACOS.xattr(kept)).toBeUndefined();
    for (const lost of ['security.capability', 'trusted.x', 'system.posix_acl_access']) expect(MACOS.xattr(lost)).toMatch(/Linux-only/);
    expect(MACOS.selinux).toMatch(/SELinux/);
    expect(MACOS.acls).toMatch(/ACL/);
    expect(MACOS.diskName(Buffer.from('e:f')).toString()).toBe('e:f');
    expect(MACOS.keptMode(0o4755, false)).toBe(0o4755);
  });

  it('Windows holds no owners, xattrs, labels, ACLs or special files, and of a mode only read-only', () => {
    expect(WINDOWS.owners).toBeDefined();
    expect(WINDOWS.xattr('user.x')).toMatch(/no extended attributes/);
    expect(WINDOWS.keptMode(0o644, false)).toBe(0o666);
    expect(WINDOWS.keptMode(0o444, false)).toBe(0o444);
    expect(WINDOWS.keptMode(0o755, true)).toBe(0o777);
    expect(LINUX.keptMode(0o4755, false)).toBe(0o4755);
  });
});

/** What a Windows process gets by default (it is never root): the user profile, also when these tests run as root. */
const USER = { sameOwner: false, samePermissions: false };
const file = (path: string | Buffer, text: string, extra: Partial<Entry> = {}) => [makeEntry({ path, type: 'file', size: Buffer.byteLength(text), mode: 0o644, ...extra }), Buffer.from(text)] as [Entry, Buffer];

describe('extracting through the adapters (on this machine, real files)', () => {
  const hostile = ['a<b', 'c>d', 'ab:c', 'g"h', 'i|j', 'k?l', 'm*n', 'ctl\x01x', 'trail.', 'trail ', 'CON', 'nul.txt', 'COM1', 'lpt1.log', 'back\\slash', 'dir:x/AUX.c'];

  it('Windows: hostile names land under the mapped names, and a scan through the adapter gives the originals back', async () => {
    const dest = tempDir('plat-win');
    const archive = join(dest, '..', 'win.tar');
    const items = [...hostile.map((n) => file(n, `content of ${n}`)), file(Buffer.from([0x62, 0xff, 0x2e, 0x62, 0x69, 0x6e]), 'not utf-8')];
    writeFileSync(archive, await tarOf(items));
    const r = await extract(archive, dest, { platform: WINDOWS, ...USER });
    expect(r.losses).toEqual([]);
    for (const n of hostile) expect(readFileSync(join(dest, ...n.split('/').map((c) => win(c))), 'utf8')).toBe(`content of ${n}`);
    expect(readdirSync(dest)).toContain('ab\uf03ac');
    expect(readdirSync(dest)).toContain('\uf043ON');
    expect(r.notes).toContain(`ab:c: written as "ab<U+F03A>c" by the windows name rule (reversible, spec §9.7)`);
    expect(r.notes.some((n) => /17 entries written under names mapped by the windows name rule/.test(n))).toBe(true);
    const names: string[] = [];
    for await (const { entry } of scan(['.'], { cwd: dest, platform: WINDOWS })) if (entry.type === 'file') names.push(entry.path.toString('latin1').slice(2));
    expect(names.sort()).toEqual([...hostile, Buffer.from([0x62, 0xff, 0x2e, 0x62, 0x69, 0x6e]).toString('latin1')].map((n) => Buffer.from(n, n.includes('\xff') ? 'latin1' : 'utf8').toString('latin1')).sort());
  });

  it('Windows: verify -C compares under the mapped names and the modes Windows holds: a fresh restore is clean, a mapped file removed is missing', async () => {
    const dest = tempDir('plat-win-verify');
    const archive = join(dest, '..', 'win-verify.tar');
    // "x." and "x", "y " and "y": Windows opens "x" for "x." (it drops trailing dots): compared
    // under the member's own name, a missing "x." passed as "x".
    const names = ['x', 'x.', 'y', 'y ', 'ab:c', 'CON', 'nul', 'COM1', 'd/e?f'];
    writeFileSync(archive, await tarOf(names.map((n) => file(n, 'same'))));
    expect((await extract(archive, dest, { platform: WINDOWS, ...USER })).losses).toEqual([]);
    const clean = await verifyTree(archive, dest, { platform: WINDOWS, ...USER });
    expect(clean.differences).toEqual([]);
    expect(clean.ok).toBe(true);
    rmSync(join(dest, win('x.')));
    rmSync(join(dest, win('y ')));
    const r = await verifyTree(archive, dest, { platform: WINDOWS, ...USER });
    expect(r.ok).toBe(false);
    expect(r.differences.map((d) => [d.path, d.property])).toEqual([
      ['x.', 'missing'],
      ['y ', 'missing'],
    ]);
  });

  it('Windows: each loss is reported per entry: xattrs, label, ACL, fifo, device, case collision, traversal; -p adds owners and modes', async () => {
    const dest = tempDir('plat-win-loss');
    const archive = join(dest, '..', 'loss.tar');
    const acl = [{ tag: 'user_obj', perm: 6 }, { tag: 'user', id: 1234, name: 'someone', perm: 4 }, { tag: 'group_obj', perm: 4 }, { tag: 'mask', perm: 4 }, { tag: 'other', perm: 4 }] as Entry['aclAccess'];
    writeFileSync(
      archive,
      await tarOf([
        file('x.txt', 'x', { xattrs: new Map([['user.k', Buffer.from('v')]]), mode: 0o755, uid: 1234, gid: 1234 }),
        file('label', 'l', { selinux: 'system_u:object_r:etc_t:s0' }),
        file('acl', 'a', { aclAccess: acl }),
        [makeEntry({ path: 'fifo', type: 'fifo' })],
        [makeEntry({ path: 'dev', type: 'chardev', devMajor: 1, devMinor: 3 })],
        file('Readme', 'first'),
        file('README', 'second'),
        file('..\\evil', 'no'),
        file('C:evil', 'no'),
        file('ok', 'ok'),
      ]),
    );
    const r = await extract(archive, dest, { platform: WINDOWS, preserve: true });
    const kinds = r.losses.map((l) => `${l.path} ${l.what}`);
    expect(kinds).toEqual(
      expect.arrayContaining(['x.txt xattr', 'x.txt owner', 'x.txt mode', 'label selinux', 'acl acl', 'fifo device', 'dev device', 'README entry', '..\\evil entry', 'C:evil entry']),
    );
    expect(r.losses.find((l) => l.path === 'x.txt' && l.what === 'mode')!.reason).toBe('mode 755 kept as 666: windows holds only a read-only flag');
    expect(r.losses.find((l) => l.path === 'README')!.reason).toMatch(/collides with "Readme"/);
    expect(readFileSync(join(dest, 'Readme'), 'utf8')).toBe('first');
    expect(readFileSync(join(dest, 'ok'), 'utf8')).toBe('ok');
    expect(readdirSync(dest).sort()).toEqual(['Readme', 'acl', 'label', 'ok', 'x.txt']);
    // Without -p, owners and modes are what the user profile leaves out: a note, not a loss.
    const dest2 = tempDir('plat-win-user');
    const r2 = await extract(archive, dest2, { platform: WINDOWS, ...USER });
    expect(r2.losses.map((l) => l.what)).not.toContain('mode');
    expect(r2.losses.map((l) => l.what)).not.toContain('owner');
    expect(r2.notes.some((n) => /permission bits kept only as a read-only flag on \d+ entries/.test(n))).toBe(true);
  });

  it('Windows: a symlink target is mapped with the names, so the link reaches the renamed file', async () => {
    const dest = tempDir('plat-win-link');
    const archive = join(dest, '..', 'link.tar');
    writeFileSync(archive, await tarOf([file('dir:x/CON', 'target'), [makeEntry({ path: 'l', type: 'symlink', linkTarget: Buffer.from('dir:x/CON') })]]));
    const r = await extract(archive, dest, { platform: WINDOWS, ...USER });
    expect(r.losses).toEqual([]);
    // Here (Linux) the `\` of the Windows target is a name byte, so only the mapped text is checked.
    expect(readlinkSync(join(dest, 'l'), 'utf8')).toBe('dir\uf03ax\\\uf043ON');
  });

  it('symlinks made last (as on Windows): targets exist by then, nothing goes through a waiting link, a later entry replaces it', async () => {
    const dest = tempDir('plat-last');
    const archive = join(dest, '..', 'last.tar');
    const sym = (path: string, target: string) => [makeEntry({ path, type: 'symlink', linkTarget: Buffer.from(target), mtimeNs: 1_000_000_000_000_000_000n })] as [Entry];
    writeFileSync(archive, await tarOf([sym('l', 'd'), [makeEntry({ path: 'd', type: 'directory', mode: 0o755 })], file('d/f', 'in d'), file('l/x', 'through'), sym('m', 'd/f'), file('m', 'replaced')]));
    const r = await extract(archive, dest, { platform: { ...LINUX, symlinksLast: true }, ...USER });
    expect(r.losses).toEqual([{ path: 'l/x', what: 'entry', reason: 'not extracted: "l" is a symlink; nothing is extracted through it' }]);
    expect(readlinkSync(join(dest, 'l'), 'utf8')).toBe('d');
    expect(lstatSync(join(dest, 'l'), { bigint: true }).mtimeNs).toBe(1_000_000_000_000_000_000n); // its metadata, applied when made
    expect(readFileSync(join(dest, 'l', 'f'), 'utf8')).toBe('in d');
    expect(readdirSync(join(dest, 'd'))).toEqual(['f']);
    expect(lstatSync(join(dest, 'm')).isFile()).toBe(true);
    expect(readFileSync(join(dest, 'm'), 'utf8')).toBe('replaced');
  });

  it('macOS: NFC/NFD and case collisions refused, SELinux and ACLs reported, user.* xattrs and names kept', async () => {
    const dest = tempDir('plat-mac');
    const archive = join(dest, '..', 'mac.tar');
    writeFileSync(
      archive,
      await tarOf([
        file('caf\u00e9', 'nfc', { xattrs: new Map([['user.k', Buffer.from('v')]]) }),
        file('cafe\u0301', 'nfd'),
        file('CAF\u00c9', 'upper'),
        file('e:f', 'colon', { selinux: 'system_u:object_r:etc_t:s0', aclAccess: [{ tag: 'user_obj', perm: 6 }, { tag: 'user', id: 7, name: 'x', perm: 4 }, { tag: 'group_obj', perm: 4 }, { tag: 'mask', perm: 4 }, { tag: 'other', perm: 4 }] }),
      ]),
    );
    const r = await extract(archive, dest, { platform: MACOS, foldNames: true, ...USER });
    expect(r.losses.map((l) => `${l.path} ${l.what}`).sort()).toEqual(['CAF\u00c9 entry', 'cafe\u0301 entry', 'e:f acl', 'e:f selinux'].sort());
    expect(readFileSync(join(dest, 'caf\u00e9'), 'utf8')).toBe('nfc');
    expect(readFileSync(join(dest, 'e:f'), 'utf8')).toBe('colon');
    expect(lstatSync(join(dest, 'e:f')).isFile()).toBe(true);
  });
});
