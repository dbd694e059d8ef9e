#!/bin/bash
# Scenario B: files > 256 KiB (JS path). DEST/top/b is exchanged with a symlink to /tmp/race-victim;
# writeFile opens DEST/top/b/.portarc-*.tmp by path, renameSync(tmp, abs) by path.
cd /tmp/race-repro; [ -f big.tar ] || python3 gen.py big big.tar 200
./run.sh big.tar top/b /tmp/race-victim ${1:-3} 0 "${@:2}"
