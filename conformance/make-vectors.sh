#!/usr/bin/env bash
# Regenerate every conformance vector (conformance/vectors/**/*.tar) from scratch.
#
#   sudo bash conformance/make-vectors.sh            # all vectors
#   sudo bash conformance/make-vectors.sh gnutar     # only those whose name contains "gnutar"
#
# Needs root (owners, a device node, SELinux labels written as plain xattrs), GNU tar, bsdtar,
# python3, attr (setfattr), acl (setfacl), coreutils, and the built library (dist/, made here if
# missing). Source trees get fixed owners, modes and mtimes (touch -d @...), so the tools write
# the same bytes on every run; the exceptions are listed in conformance/README.md.
#
# A vector whose expected JSON is missing gets a DRAFT from the reference adapter
# (tools/draft-expected.mjs). A draft is not a result: review it against the bytes (README.md,
# "Reviewing an expected result") before committing. Existing JSON files are never overwritten.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/vectors
ONLY=${1:-}

die() { echo "make-vectors: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root: the trees need other owners, a device node and SELinux labels"
for t in tar bsdtar python3 setfattr setfacl mknod truncate node; do
  command -v "$t" >/dev/null || die "missing tool: $t"
done
[ -f "$ROOT/dist/api/index.js" ] || (cd "$ROOT" && npx tsc -p tsconfig.json)

export TZ=UTC LC_ALL=C
umask 022
W=$(mktemp -d /tmp/portarc-vectors.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$OUT/1.0" "$OUT/future" "$OUT/malformed"

# GNU tar names pax sparse members and headers after its process id (GNUSparseFile.%p): run it as
# pid 1 of a new pid namespace so that the name is the same on every run.
if unshare -fp true 2>/dev/null; then PID1=(unshare -fp); else PID1=(); fi
gtar() { "${PID1[@]}" tar "$@"; }

T0=1600000000 # 2020-09-13T12:26:40Z
# Every path under DIR gets mtime T0 (deepest first; symlinks themselves), then the overrides
# "PATH=@SECONDS[.FRACTION]" given after DIR, in order (give directories last).
stamp() {
  local dir=$1
  shift
  find "$dir" -depth -exec touch -h -d "@$T0" {} +
  local spec
  for spec in "$@"; do touch -h -d "${spec#*=}" "$dir/${spec%%=*}"; done
}

want() { [ -z "$ONLY" ] || [[ "$1" == *"$ONLY"* ]]; }

# draft VECTOR MADE_BY DESCRIPTION: write the draft expected JSON if there is none yet.
draft() {
  node "$HERE/tools/draft-expected.mjs" "$1" --made-by "$2" --description "$3"
}

# A sparse file: 1,000,000 bytes, six 4 KiB data blocks, holes between them and at the end.
mksparse() {
  truncate -s 1000000 "$1"
  local off
  for off in 0 65536 131072 262144 524288 917504; do
    printf 'data block at %d\n' "$off" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
  done
}

# ---------------------------------------------------------------------------------------------
# 1.0/y_portarc-full.tar: every kind of entry and metadata portarc writes.
if want portarc-full; then
  S=$W/full-src && mkdir -p "$S/full" && cd "$S/full"
  mkdir dir acl-dir
  printf 'hello portarc\n' > file.txt
  chmod 0640 file.txt
  ln -s file.txt link
  printf 'two names\n' > hard1 && ln hard1 hard2
  mkfifo fifo
  mknod null c 1 3
  # full/long/a{95}/b{95}/c{98}: exactly 300 bytes in the archive.
  LONG="long/$(printf 'a%.0s' {1..95})/$(printf 'b%.0s' {1..95})/$(printf 'c%.0s' {1..98})"
  mkdir -p "$(dirname "$LONG")" && printf 'a 300-byte path\n' > "$LONG"
  printf 'not utf-8\n' > "$(printf 'bad-\377\376.bin')"
  ln -s "$(printf 'bad-\377\376.bin')" link-to-bad
  printf 'xattrs\n' > xattrs.bin
  setfattr -n user.binary -v 0x00ff0a3d00ff xattrs.bin
  setfattr -n user.text -v 'plain text' xattrs.bin
  # 221-byte path whose last component (200 bytes) is too long for ustar's name field: the
  # path needs a pax record, so portarc writes the NUL-holding xattr as LIBARCHIVE.xattr (base64).
  P200="p/$(printf 'n%.0s' {1..196}).bin"
  mkdir p && printf 'long name, binary xattr\n' > "$P200"
  setfattr -n user.nul -v 0x6100620063 "$P200"
  # SELinux labels as the kernel stores them on an SELinux host (with the trailing NUL).
  printf 'labelled\n' > label.txt
  setfattr -n security.selinux -v 0x$(printf 'system_u:object_r:etc_t:s0' | od -An -tx1 | tr -d ' \n')00 label.txt
  setfattr -h -n security.selinux -v 'system_u:object_r:tmp_t:s0' link
  setfacl -m u:1234:rwx,u:daemon:r-x,g:2345:r-x,m::rwx acl-dir
  setfacl -d -m u::rwx,u:1234:r-x,g::r-x,m::r-x,o::- acl-dir
  printf 'nanoseconds\n' > ns.txt
  printf 'before 1970\n' > old.txt
  printf 'big uid\n' > uid.txt && chown 3000000:3000000 uid.txt
  cd "$ROOT"
  stamp "$S/full" ns.txt=@1700000000.123456789 old.txt=@-86400123.5 dir=@1500000000.5 .=@1500000001
  node "$HERE/tools/portarc-create.mjs" -f "$OUT/1.0/y_portarc-full.tar" -C "$S" full
  draft "$OUT/1.0/y_portarc-full.tar" "portarc create (conformance/tools/portarc-create.mjs: scan + create, atime/ctime dropped) as root" \
    "portarc's own archive of a tree with a directory, a file, a symlink, a symlink with a non-UTF-8 target, a hardlink pair, a fifo, a char device, a 300-byte path, a non-UTF-8 name, binary user xattrs (NUL, 0xff), a 200+-byte path whose xattr holds a NUL (LIBARCHIVE.xattr base64 form), SELinux labels on a file and on a symlink, a directory with access and default ACLs, ns mtime, an mtime before 1970, uid 3000000"
fi

# 1.0/y_portarc-sparse.tar: GNU sparse 1.0 as portarc writes it (portarc create --sparse).
if want portarc-sparse; then
  S=$W/psparse-src && mkdir -p "$S/sparse" && cd "$S/sparse"
  mksparse holes.bin
  truncate -s 65536 all-hole.bin
  printf 'dense\n' > dense.txt
  cd "$ROOT"
  stamp "$S/sparse"
  node "$HERE/tools/portarc-create.mjs" --sparse -f "$OUT/1.0/y_portarc-sparse.tar" -C "$S" sparse
  draft "$OUT/1.0/y_portarc-sparse.tar" "portarc create --sparse (conformance/tools/portarc-create.mjs --sparse)" \
    "GNU sparse 1.0 members written by portarc: a 1,000,000-byte file with six 4 KiB data blocks and a trailing hole, a 64 KiB file that is all hole, and a dense file"
fi

# ---------------------------------------------------------------------------------------------
# GNU tar.
GNU_PAX=(--format=pax --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' --sort=name)

if want gnutar-pax-xattrs; then
  S=$W/gx-src && mkdir -p "$S/gx" && cd "$S/gx"
  printf 'xattrs\n' > file.txt
  setfattr -n user.binary -v 0x00ff0a3d00 file.txt
  setfattr -n user.text -v 'hello world' file.txt
  setfattr -n 'user.a=b' -v 'equals in the name' file.txt
  printf 'labelled\n' > label.txt
  setfattr -n security.selinux -v 'unconfined_u:object_r:user_home_t:s0' label.txt
  ln -s file.txt link
  setfattr -h -n security.selinux -v 'system_u:object_r:tmp_t:s0' link
  mkdir acl-dir
  setfacl -m u:1234:rwx,g:2345:r-x,m::rwx acl-dir
  setfacl -d -m u::rwx,u:1234:r-x,g::r-x,m::r-x,o::- acl-dir
  printf 'ns\n' > ns.txt
  cd "$ROOT"
  stamp "$S/gx" ns.txt=@1700000000.123456789
  gtar "${GNU_PAX[@]}" --xattrs --xattrs-include='*' --selinux --acls -cf "$OUT/1.0/y_gnutar-pax-xattrs.tar" -C "$S" gx
  draft "$OUT/1.0/y_gnutar-pax-xattrs.tar" "GNU tar 1.34: tar --format=pax --xattrs --xattrs-include='*' --selinux --acls --sort=name --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime" \
    "GNU tar pax with SCHILY.xattr (binary value, '=' in a name), RHT.security.selinux next to SCHILY.xattr.security.selinux, SCHILY.acl.access/default next to the raw system.posix_acl_* xattrs, an ns mtime"
fi

if want gnutar-gnu-longnames; then
  S=$W/gl-src && mkdir -p "$S/gl" && cd "$S/gl"
  D60=$(printf 'd%.0s' {1..60}) && F80=$(printf 'f%.0s' {1..80})
  mkdir "$D60" && printf 'long name\n' > "$D60/$F80.txt"
  ln -s "target/$(printf 'x%.0s' {1..150})" sym
  ln "$D60/$F80.txt" hard
  printf 'uid 3000000\n' > uid.txt && chown 3000000:3000000 uid.txt
  printf 'before 1970\n' > old.txt
  cd "$ROOT"
  stamp "$S/gl" old.txt=@-1000000000
  gtar --format=gnu --sort=name -cf "$OUT/1.0/y_gnutar-gnu-longnames.tar" -C "$S" gl
  draft "$OUT/1.0/y_gnutar-gnu-longnames.tar" "GNU tar 1.34: tar --format=gnu --sort=name (uid.txt chowned to 3000000:3000000)" \
    "GNU format: L long name (148 bytes), K long symlink target and K long hardlink target, base-256 uid/gid 3000000, base-256 negative mtime"
fi

if want gnutar-v7; then
  S=$W/v7-src && mkdir -p "$S/v7/dir" && cd "$S/v7"
  printf 'v7 file\n' > file.txt && chmod 0600 file.txt
  printf 'in a dir\n' > dir/inner.txt
  ln -s file.txt link && ln file.txt hard
  cd "$ROOT"
  stamp "$S/v7"
  gtar --format=v7 --sort=name -cf "$OUT/1.0/y_gnutar-v7.tar" -C "$S" v7
  draft "$OUT/1.0/y_gnutar-v7.tar" "GNU tar 1.34: tar --format=v7 --sort=name" \
    "v7 headers (no magic, no owner names): directories, a file, a symlink and a hardlink"
fi

if want gnutar-ustar; then
  S=$W/us-src && mkdir -p "$S/us" && cd "$S/us"
  D90=$(printf 'd%.0s' {1..90}) && F90=$(printf 'f%.0s' {1..90})
  mkdir "$D90" && printf 'prefix + name\n' > "$D90/$F90"
  printf 'ustar\n' > file.txt && chmod 0754 file.txt
  ln -s file.txt link && ln file.txt hard
  mkfifo fifo
  mknod blk b 7 200
  chown 1234:2345 file.txt
  cd "$ROOT"
  stamp "$S/us"
  gtar --format=ustar --sort=name -cf "$OUT/1.0/y_gnutar-ustar.tar" -C "$S" us
  draft "$OUT/1.0/y_gnutar-ustar.tar" "GNU tar 1.34: tar --format=ustar --sort=name" \
    "POSIX ustar: a 184-byte path split into prefix and name, a file owned by 1234:2345 (no names), a symlink, a hardlink, a fifo, a block device 7,200"
fi

for sv in 0.0 0.1 1.0 oldgnu; do
  want "gnutar-sparse-$sv" || continue
  S=$W/sp-$sv && mkdir -p "$S/sp" && cd "$S/sp"
  mksparse holes.bin
  printf 'dense\n' > dense.txt
  cd "$ROOT"
  stamp "$S/sp"
  V=$OUT/1.0/y_gnutar-sparse-$sv.tar
  if [ "$sv" = oldgnu ]; then
    gtar --format=oldgnu --sparse --sort=name -cf "$V" -C "$S" sp
    how="tar --format=oldgnu --sparse --sort=name"
    what="old GNU sparse (type S): 6 data runs plus the end marker, so the map continues in an extension block"
  else
    gtar "${GNU_PAX[@]}" --sparse --sparse-version="$sv" -cf "$V" -C "$S" sp
    how="tar --format=pax --sparse --sparse-version=$sv --sort=name --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime (as pid 1)"
    what="pax GNU sparse $sv"
  fi
  draft "$V" "GNU tar 1.34: $how" "$what: a 1,000,000-byte file with six 4 KiB data blocks and a trailing hole, and a dense file"
done

if want gnutar-incremental; then
  S=$W/inc-src && mkdir -p "$S/inc/sub" && cd "$S/inc"
  printf 'a\n' > a.txt && printf 'b\n' > sub/b.txt
  cd "$ROOT"
  stamp "$S/inc"
  gtar --format=gnu --sort=name -g "$W/inc.snar" -cf "$OUT/1.0/y_gnutar-incremental-dumpdir.tar" -C "$S" inc
  draft "$OUT/1.0/y_gnutar-incremental-dumpdir.tar" "GNU tar 1.34: tar --format=gnu --sort=name -g SNAPSHOT -cf (level 0)" \
    "GNU incremental archive: directories are type D with a dumpdir (Y/N list of names) as data; they read as directories"
fi

if want gnutar-multivolume; then
  # The second volume of `tar -M`: it begins with the rest of mv/big.bin (type M, offset 19968),
  # then mv/small.txt whole. 30,000 bytes of a fixed pattern, so that the bytes are the same every run.
  S=$W/mv-src && mkdir -p "$S/mv" && cd "$S/mv"
  python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + 3) % 251 for i in range(30000)))' > big.bin
  printf 'small\n' > small.txt
  cd "$ROOT"
  stamp "$S/mv"
  gtar --format=gnu --sort=name -c -M -L 20 -f "$W/vol1.tar" -f "$OUT/1.0/n_gnutar-multivolume-continuation.tar" -C "$S" mv/big.bin mv/small.txt
  [ -f "$OUT/1.0/n_gnutar-multivolume-continuation.json" ] || cat > "$OUT/1.0/n_gnutar-multivolume-continuation.json" <<'JSON'
{
  "description": "spec §6.3: the second volume of GNU tar -M: its first member (type M) is the rest of mv/big.bin from byte 19968; alone it must not be restored as mv/big.bin (a file's tail under its name). A reader names it and fails (exit 2); mv/small.txt after it may come out",
  "madeBy": "GNU tar 1.34: tar --format=gnu --sort=name -c -M -L 20 -f vol1 -f vol2 (this is vol2)",
  "exit": 2
}
JSON
fi

# ---------------------------------------------------------------------------------------------
# bsdtar's default format: restricted pax, each xattr written twice (SCHILY + LIBARCHIVE).
if want bsdtar-default; then
  S=$W/bx-src && mkdir -p "$S/bx" && cd "$S/bx"
  printf 'xattrs\n' > file.txt
  setfattr -n 'user.a=b' -v 'equals' file.txt
  setfattr -n 'user.sp ace' -v 'space' file.txt
  setfattr -n user.binary -v 0x00ff01fe00 file.txt
  setfattr -n 'user.100%' -v 'percent' file.txt
  mkdir acl-dir
  setfacl -m u:daemon:r-x,u:1234:rwx,g:2345:r-x,m::rwx acl-dir
  setfacl -d -m u::rwx,u:1234:r-x,g::r-x,m::r-x,o::- acl-dir
  printf 'plain\n' > plain.txt
  cd "$ROOT"
  stamp "$S/bx"
  # bsdtar walks directories in readdir order: name every path, without recursion (-n).
  bsdtar -cf "$OUT/1.0/y_bsdtar-default.tar" -n -C "$S" bx bx/acl-dir bx/file.txt bx/plain.txt
  draft "$OUT/1.0/y_bsdtar-default.tar" "bsdtar 3.6.2 (libarchive 3.6.2): bsdtar -cf -n (default restricted pax)" \
    "bsdtar restricted pax: xattrs user.a=b, 'user.sp ace', user.100% and a binary value, each as SCHILY.xattr (URL-escaped name) and LIBARCHIVE.xattr (base64); comma-separated ACL text with names and ids. Each xattr must come out exactly once, with its true name"
fi

# ---------------------------------------------------------------------------------------------
# Python tarfile and hand-made bytes.
if want python || want future || want malformed || want -feature || want unknown || want major; then
  python3 "$HERE/tools/craft.py" "$OUT"
  draft "$OUT/1.0/y_python-pax.tar" "Python 3.11 tarfile (conformance/tools/craft.py): PAX_FORMAT, encoding=utf-8, errors=surrogateescape" \
    "Python pax: a UTF-8 name, a non-UTF-8 name (hdrcharset=BINARY), a binary SCHILY.xattr value through pax_headers (hdrcharset=BINARY), a fractional mtime, a negative mtime, a symlink to a UTF-8 name"
  F="Python 3.11 tarfile (conformance/tools/craft.py): PAX_FORMAT with pax_headers= (global g header) and TarInfo.pax_headers (per-member x header)"
  draft "$OUT/future/y_unknown-portarc-key.tar" "$F" "global PORTARC.version=1.1 and an unknown PORTARC.newthing=1: read everything, 1 notice, exit 0"
  draft "$OUT/future/y_unknown-vendor-key.tar" "$F" "per-member ACME.colour=blue on fut/a.txt: read everything, 1 notice, exit 0"
  draft "$OUT/future/y_unknown-keys-both.tar" "$F" "global PORTARC.newthing=1 and per-member ACME.colour=blue: read everything, 2 notices, exit 0"
  draft "$OUT/future/y_unknown-vendor-key-global.tar" "$F" "an unknown vendor key ACME.colour=blue in the global header, three members: read everything, ONE archive notice (not one per member), the key not applied to the members, exit 0"
  draft "$OUT/future/y_compat-feature.tar" "$F" "PORTARC.version=1.3 with an unknown compat feature: read silently (exit 0, no warning)"
  draft "$OUT/future/y_rocompat-feature.tar" "$F" "PORTARC.version=1.3 with an unknown read-only-compatible feature: read, 1 warning (must not be modified)"
  draft "$OUT/future/n_incompat-feature.tar" "$F" "PORTARC.version=1.3 with an unknown incompatible feature \"shiny\": refuse (exit 2) before extracting anything, naming the feature"
  draft "$OUT/future/n_major-version-2.tar" "$F" "PORTARC.version=2.0: a new major version: refuse (exit 2)"
  M="by hand (conformance/tools/craft.py, raw ustar bytes)"
  draft "$OUT/malformed/n_bad-checksum.tar" "$M" "the second member's header checksum is off by one"
  draft "$OUT/malformed/n_truncated-data.tar" "$M" "a member of 2000 bytes, but the archive ends 700 bytes into its data"
  draft "$OUT/malformed/n_truncated-header.tar" "$M" "the archive ends 300 bytes into the second member's header block"
  draft "$OUT/malformed/n_bad-pax-length.tar" "$M" "a pax record whose length (20) is shorter than the record: byte 20 is not its newline"
  draft "$OUT/malformed/n_pax-record-past-end.tar" "$M" "a pax record whose length (40) runs past the x header's data (18 bytes) into the block padding"
  draft "$OUT/malformed/n_pax-records-after-nul.tar" "$M" "m/b.txt's x header holds uname=alice, one NUL, then SCHILY.xattr.user.a=1: records after NUL padding, a damaged header (spec §4.3.3 step 1), refused at the record after the NUL"
  draft "$OUT/malformed/n_sparse-run-past-size.tar" "$M" "GNU sparse 1.0 member (real size 100) whose one data run, 50 bytes at offset 80, ends past the real size"
  draft "$OUT/malformed/y_no-end-of-archive.tar" "$M" "two good members and no end-of-archive blocks: both are read, with one archive warning (spec §4.7)"
  draft "$OUT/malformed/i_acl-text-unreadable.tar" "$M" "m/b.txt has an unreadable SCHILY.acl.access text next to a valid raw system.posix_acl_access xattr: falling back to the raw xattr or dropping the ACL (with a warning) are both allowed (spec §5.4.4, C.12)"
  P="by hand (conformance/tools/craft.py precision(), raw ustar bytes)"
  draft "$OUT/1.0/y_global-header-only.tar" "$P" "spec §4.5/§6.1: a g header alone, then the end-of-archive blocks: the valid empty archive (a g header is not a pending extension header), version 1.0, no entry, exit 0"
  draft "$OUT/1.0/y_global-header-no-end.tar" "$P" "spec §4.7/§6.1: a g header, then EOF: an empty archive without its end blocks (1 warning), not 'an extension header with no member'"
  draft "$OUT/1.0/n_x-header-then-end.tar" "$P" "spec §4.7/§6.1: an x header followed by the end-of-archive blocks: malformed (the x header describes a member that never comes)"
  draft "$OUT/1.0/n_lone-zero-block.tar" "$P" "spec §4.7/§6.8: m/b.txt's header block is all zeros and m/c.txt's header follows its data (a lone zero block): damage, not the end of the archive; a reader without salvage fails at byte 1024, one with salvage reports [1024, 2048) skipped and reads m/c.txt (exit 2 either way)"
  draft "$OUT/1.0/y_data-after-end.tar" "$P" "spec §4.7: an archive of m/a.txt, its end blocks, then a second archive of m/b.txt (cat of two archives): only m/a.txt is read, with one archive warning (data follows the end of the archive, at offset 2048), exit 1"
  draft "$OUT/1.0/y_numeric-fields.tar" "$P" "spec §4.1.1/§4.2.2: devmajor/devminor hold junk on a regular file (parsed for chardev/blockdev only: ignored, no warning); mode '640 x7' and uid '1750' NUL 'abc': bytes after a numeric field's terminator are ignored (mode 0640, uid 1000)"
  draft "$OUT/1.0/y_keywords-wrong-type.tar" "$P" "spec §6.2 step 3: linkpath and SCHILY.devmajor/devminor on a file, GNU.sparse.* on a directory, SCHILY.devmajor on a symlink: ignored, one notice per x record (7), exit 0, never listed (the file has no linkTarget, the directory is no sparse file). linkpath in the g header applies to the symlink only, silently"
  draft "$OUT/1.0/y_libarchive-xattr-base64.tar" "$P" "spec §5.2.2: LIBARCHIVE.xattr.user.bad is not base64: 1 warning, dropped (not an empty value); padded and unpadded base64 both read; SCHILY.xattr.user.x%2541 is URL-decoded ONCE (user.x%41), so it is not the twin of LIBARCHIVE.xattr.user.x%41 (user.xA): two xattrs; SCHILY user.sp%20ace and its LIBARCHIVE twin are one xattr 'user.sp ace'"
  draft "$OUT/1.0/n_sparse-no-real-size.tar" "$P" "spec §5.5.2: GNU sparse 1.0 member without GNU.sparse.realsize (or GNU.sparse.size): malformed, refused naming the entry"
  draft "$OUT/1.0/n_sparse-minor-1.tar" "$P" "spec §5.5.2: GNU.sparse.major=1, minor=1: an unknown sparse format version is refused (unsupported), never read as a dense file whose content would be the map"
  draft "$OUT/1.0/n_pax-empty-keyword.tar" "$P" "spec §4.3.1/§4.3.3: a pax record with an empty keyword ('6 =x' LF): malformed"
  draft "$OUT/1.0/y_pax-empty-path.tar" "$P" "spec §4.3.3/§5.6: 'path=' with an empty value is an invalid value (1 warning), not POSIX's delete: the header's name m/b.txt stands"
  draft "$OUT/1.0/y_global-headers-repeated.tar" "$P" "spec §6.1/§7: two g headers: the last PORTARC.version wins (1.1), compat feature 'shiny' stated twice is listed once, ACME.colour (in both) and PORTARC.newthing are one archive notice each (2), exit 0"
fi

if want compressed || want zstd || want gzip; then
  # The compressed vectors reuse the 1.0 tar vectors and their expected results.
  mkdir -p "$OUT/compressed"
  (cd "$(dirname "$0")" && python3 tools/compressed-vectors.py)
fi

if want zip; then
  (cd "$(dirname "$0")" && bash tools/zip-vectors.sh)
fi

if want rules || want zip64 || want backslash || want acl-no-mask || want absolute || want both-forms; then
  # Rules settled after the first suite (issue #9 restore rules, zip64, zip name encodings, zip damage).
  # Their expected JSONs are reviewed files kept in git (drafted once with tools/draft-expected.mjs).
  (cd "$(dirname "$0")" && bash tools/rules-vectors.sh)
fi

# Frozen vectors (vectors/frozen/<release>/) are never regenerated: tools/frozen-vectors.mjs makes a
# new release's set once, and refuses an existing one.

echo "make-vectors: done; vectors in $OUT"
