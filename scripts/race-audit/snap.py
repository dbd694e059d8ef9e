#!/usr/bin/env python3
import os, sys, json
root = sys.argv[1]; out = {}
for dp, dns, fns in os.walk(root):
    for n in [''] + dns + fns:
        p = os.path.join(dp, n) if n else dp
        st = os.lstat(p)
        try: xs = {k: os.getxattr(p, k, follow_symlinks=False).hex() for k in os.listxattr(p, follow_symlinks=False)}
        except OSError: xs = {}
        out[os.path.relpath(p, root)] = dict(mode=oct(st.st_mode), uid=st.st_uid, gid=st.st_gid, nlink=st.st_nlink, size=st.st_size,
            mtime=st.st_mtime_ns, ctime=st.st_ctime_ns, ino=st.st_ino, xattrs=xs, link=os.readlink(p) if os.path.islink(p) else None)
json.dump(out, open(sys.argv[2], 'w'), sort_keys=True)
