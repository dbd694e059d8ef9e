#!/bin/bash
# Scenario C: directory metadata in finish(). Once every directory is made, DEST/top is exchanged
# with a symlink to /tmp/race-victim/mirror (d0..d2999, mode 0700, ACLs): lstat-by-path ino check,
# then removexattr/lchown/setxattr/chmod/utimensat by path through the swapped "top".
cd /tmp/race-repro; [ -f dirsx.tar ] || python3 gen.py dirsx dirsx.tar 3000
VICTIM=$PWD/victim-acl.sh VN=3000 WAITFOR=top/d2999 ./run.sh dirsx.tar top /tmp/race-victim/mirror ${1:-3} 0 "${@:2}"
