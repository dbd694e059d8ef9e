#!/bin/bash
# Fresh /tmp/race-victim with canaries. Usage: victim.sh [NDIRS]
N=${1:-0}
V=/tmp/race-victim
rm -rf $V; mkdir -p $V/sub $V/hl $V/mirror $V/files
for c in canary1 canary2; do echo "canary $c" > $V/$c; chmod 600 $V/$c; done
echo c > $V/sub/canary_sub; chmod 600 $V/sub/canary_sub
echo secret > $V/hl/target; chmod 600 $V/hl/target
setfattr -n user.canary -v 1 $V/canary1 2>/dev/null
chmod 700 $V/sub $V/hl $V/mirror
for ((i=0;i<N;i++)); do mkdir -m 700 $V/mirror/d$i; echo f > $V/files/d$i; done
touch -d 2010-01-01 $V/canary* $V/sub $V/sub/* $V/hl/* $V/mirror/* 2>/dev/null
