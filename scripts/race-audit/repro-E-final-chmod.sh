#!/bin/bash
# Scenario E: the directory itself (final component) swapped during finish(): chmodSync follows it.
cd /tmp/race-repro; [ -f dirs.tar ] || python3 gen.py dirs dirs.tar 3000
VN=3000 WAITFOR=top/d2999 ./run.sh dirs.tar top/d1500 /tmp/race-victim/mirror/d1500 ${1:-15} 0 "${@:2}"
