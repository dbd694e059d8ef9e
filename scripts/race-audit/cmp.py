#!/usr/bin/env python3
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
bad = 0
for k in sorted(set(a) | set(b)):
    if k not in b: print('DELETED', k, a[k]); bad += 1
    elif k not in a: print('NEW', k, b[k]); bad += 1
    else:
        d = {f: (a[k][f], b[k][f]) for f in a[k] if a[k][f] != b[k][f] and not (k == '.' and f in ('mtime', 'ctime', 'nlink', 'size')) }
        if d: print('CHANGED', k, d); bad += 1
sys.exit(1 if bad else 0)
