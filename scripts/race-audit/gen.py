#!/usr/bin/env python3
"""Generate test archives: gen.py KIND OUT [N]"""
import tarfile, io, sys, time
kind, out = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
T = 1000000000  # 2001-09-09
tf = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)
def d(name, mode=0o755):
    ti = tarfile.TarInfo(name); ti.type = tarfile.DIRTYPE; ti.mode = mode; ti.mtime = T; ti.uid = 4242; ti.gid = 4242; tf.addfile(ti)
def f(name, data=b'x', mode=0o644):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = T; ti.uid = 4242; ti.gid = 4242; tf.addfile(ti, io.BytesIO(data))
def l(name, target):
    ti = tarfile.TarInfo(name); ti.type = tarfile.LNKTYPE; ti.linkname = target; ti.mtime = T; tf.addfile(ti)
if kind == 'batch':      # small files under top/a/sub (batched, native)
    d('top'); d('top/a'); d('top/a/sub')
    for i in range(N):
        f(f'top/a/sub/f{i}', b'PWNED %d\n' % i)
        if i % 10 == 0: f('top/a/sub/canary_sub', b'OVERWRITTEN\n', 0o4755)
elif kind == 'big':      # files > 256 KiB (JS path) under top/b
    d('top'); d('top/b')
    big = b'B' * (300 * 1024)
    for i in range(N): f(f'top/b/big{i}', big)
    f('top/b/canary1', big)
elif kind == 'dirs':     # many directories, metadata applied in finish()
    d('top')
    for i in range(N): d(f'top/d{i}', 0o777)
elif kind == 'dirsx':    # directories with a user xattr
    d('top')
    for i in range(N):
        ti = tarfile.TarInfo(f'top/d{i}'); ti.type = tarfile.DIRTYPE; ti.mode = 0o777; ti.mtime = T; ti.uid = 4242; ti.gid = 4242
        ti.pax_headers = {'SCHILY.xattr.user.pwn': 'yes'}; tf.addfile(ti)
elif kind == 'dirsfiles':  # directories then files in each (the finish window after a long extraction)
    d('top')
    for i in range(N): d(f'top/d{i}', 0o777)
    for i in range(N): f(f'top/d{i}/x', b'y')
elif kind == 'hard':     # one target, many hardlinks in another directory
    d('top'); d('top/h'); d('top/links')
    f('top/h/target', b'T')
    for i in range(N): l(f'top/links/L{i}', 'top/h/target')
elif kind == 'hardfill':  # hardlinks interleaved with files (flushes, slower)
    d('top'); d('top/h'); d('top/links')
    f('top/h/target', b'T')
    for i in range(N):
        f(f'top/links/F{i}', b'z')
        l(f'top/links/L{i}', 'top/h/target')
tf.close()
