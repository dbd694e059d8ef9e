#!/bin/bash
# Scenario D: hardlinks. DEST/top/h is exchanged with a symlink to /tmp/race-victim/hl (hl/target: 0600 "secret").
# ensureParents(targetParts,false) is cached; link(DEST/top/h/target, ...) follows "h".
cd /tmp/race-repro; [ -f hard.tar ] || python3 gen.py hard hard.tar 5000
./run.sh hard.tar top/h /tmp/race-victim/hl ${1:-3} 0 "${@:2}"
