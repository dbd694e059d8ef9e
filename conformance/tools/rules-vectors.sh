#!/usr/bin/env bash
# Reader vectors for rules settled after the first suite (conformance/README.md): the restore rules
# of issue #9 (backslash names, absolute symlinks, mask-less ACLs), SCHILY/LIBARCHIVE precedence,
# zip64 and data descriptors from Info-ZIP, the name encodings a zip reader must apply (CP437 from
# a non-Unix host, the Info-ZIP Unicode path field, 7-Zip's UTF-8 names), and zip damage.
# Run from conformance/ (make-vectors.sh does). Every byte is fixed: two runs write the same files.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# Info-ZIP: zip64 forced (-fz) and streamed (output to a pipe: data descriptors, bit 3).
mkdir -p "$W/z/sub"
printf 'zip64 member\n' > "$W/z/a.txt"
head -c 70000 /dev/zero | tr '\0' 'q' > "$W/z/sub/big.txt"
chmod 644 "$W/z/a.txt" "$W/z/sub/big.txt"
chmod 755 "$W/z/sub" "$W/z"
touch -d @1600000000 "$W/z/a.txt" "$W/z/sub/big.txt" "$W/z/sub" "$W/z"
(cd "$W" && TZ=UTC zip -q -X -fz -r zip64.zip z && TZ=UTC zip -q -X -r - z | cat > streamed.zip)
cp "$W/zip64.zip" vectors/zip/y_infozip-zip64.zip
cp "$W/streamed.zip" vectors/zip/y_infozip-streamed.zip
# 7-Zip with a non-ASCII name: UTF-8 with flag bit 11.
mkdir -p "$W/s"
printf 'seven\n' > "$W/s/žluťoučký.txt"
touch -d @1600000000 "$W/s/žluťoučký.txt" "$W/s"
(cd "$W" && 7z a -bd -bso0 7zip-utf8.zip s/žluťoučký.txt)
cp "$W/7zip-utf8.zip" vectors/zip/y_7zip-utf8.zip

python3 - <<'PY'
import base64, io, struct, tarfile, zipfile, zlib

T0 = 1600000000

def member(name, data=b"", type=tarfile.REGTYPE, mode=0o644, pax=None, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = type, mode, T0, 0, 0, "root", "root"
    ti.linkname = linkname
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    ti.pax_headers = dict(pax or {})
    return ti, (io.BytesIO(data) if type == tarfile.REGTYPE else None)

def write_tar(path, members):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT, pax_headers={"PORTARC.version": "1.0"}, encoding="utf-8") as tf:
        for ti, data in members:
            tf.addfile(ti, data)

D = tarfile.DIRTYPE
write_tar("vectors/1.0/y_xattr-both-forms-differ.tar", [
    member("p", type=D, mode=0o755),
    member("p/f.txt", b"precedence\n", pax={"SCHILY.xattr.user.k": "from-schily", "LIBARCHIVE.xattr.user.k": base64.b64encode(b"from-libarchive").decode(), "SCHILY.xattr.user.only": "schily-only"}),
])
write_tar("vectors/1.0/y_backslash-names.tar", [
    member("w", type=D, mode=0o755),
    member("w/a\\b.txt", b"backslash\n"),
    member("w/C:\\x.txt", b"drive letter\n"),
    member("w\\..\\up.txt", b"not a parent\n"),
])
write_tar("vectors/1.0/y_absolute-symlinks.tar", [
    member("s", type=D, mode=0o755),
    member("s/abs", type=tarfile.SYMTYPE, mode=0o777, linkname="/etc/passwd"),
    member("s/up", type=tarfile.SYMTYPE, mode=0o777, linkname="../../outside"),
    member("s/f.txt", b"after the links\n"),
])
# Names Windows forbids (spec §9.7): bytes to every reader; the Windows adapter maps each reversibly.
write_tar("vectors/1.0/y_windows-hostile-names.tar", [member("h", type=D, mode=0o755)] + [
    member("h/" + n, ("content of " + n + "\n").encode("utf-8"))
    for n in ["a<b>c", "e:f", 'q"u|e?s*t', "ctl\x01x", "trail.", "trail ", "CON", "nul.txt", "COM1.log", "lpt9", "Aux.tar.gz", "back\\slash", "Case", "case", "pua\uf03a"]
])
write_tar("vectors/1.0/y_acl-no-mask.tar", [
    member("a", type=D, mode=0o750, pax={"SCHILY.acl.access": "user::rwx,user:1000:r-x,group::r-x,other::---", "SCHILY.acl.default": "user::rwx,group:1001:rwx,group::r-x,other::---"}),
    member("a/f.txt", b"acl without mask\n", mode=0o640, pax={"SCHILY.acl.access": "user::rw-\nuser:1000:rw-\ngroup::r--\nother::---\n"}),
])
# Named ACL entries without ids (GNU tar --acls writes names only), mixed with ids: sorted by id,
# an entry without one as id 0, ties in the order read (spec §5.4.1).
write_tar("vectors/1.0/y_acl-names-without-ids.tar", [
    member("n.txt", b"acl order\n", mode=0o640, pax={"SCHILY.acl.access": "user::rw-,user:9:r--,user:zed:r--,user:3:r--,user:bob:r--:1,group::r--,group:staff:r--,group:7:r--,mask::r--,other::---"}),
])
# Times past what an int64 of nanoseconds holds (1677-09-21 to 2262-04-11), with nine decimals and
# a negative fraction (-11676096000.75 s: 0.75 s before 1600-01-01): the ustar field says T0, the
# pax mtime wins (§4.3.3).
write_tar("vectors/1.0/y_times-beyond-int64-ns.tar", [
    member("t", type=D, mode=0o755, pax={"mtime": "16725225600"}),
    member("t/y2400.txt", b"year 2400\n", pax={"mtime": "13569465600.123456789"}),
    member("t/y1600.txt", b"year 1600\n", pax={"mtime": "-11676096000.75"}),
    member("t/y2500.txt", b"year 2500\n", pax={"mtime": "16725225600.5"}),
])

# Zip names: CP437 from a FAT host (rule 3), the 0x7075 Unicode path field (rule 2).
class Cp437Info(zipfile.ZipInfo):
    def _encodeFilenameFlags(self):
        return self.filename.encode("cp437"), self.flag_bits

def zinfo(cls, name, system, extra=b""):
    zi = cls(name, date_time=(2020, 9, 13, 12, 26, 40))
    zi.create_system = system
    zi.external_attr = (0o100644 << 16) if system == 3 else 0x20
    zi.compress_type = zipfile.ZIP_STORED
    zi.extra = extra
    return zi

with zipfile.ZipFile("vectors/zip/y_cp437-name.zip", "w") as z:
    z.writestr(zinfo(Cp437Info, "caf\u00e9-\u00c7\u00fc.txt", 0), b"cp437\n")
raw = "l\u00e1tka.txt".encode("latin-1")
uni = "l\u00e1tka.txt".encode("utf-8")
field = struct.pack("<BI", 1, zlib.crc32(raw)) + uni
class RawInfo(zipfile.ZipInfo):
    def _encodeFilenameFlags(self):
        return raw, self.flag_bits
with zipfile.ZipFile("vectors/zip/y_unicode-path-field.zip", "w") as z:
    z.writestr(zinfo(RawInfo, "x", 3, struct.pack("<HH", 0x7075, len(field)) + field), b"unicode path\n")

# Python's ZipFile.writestr(name, data) stores st_mode 0o600 << 16 with no file-type bits: a
# regular file, as unzip takes it (zip-profile §4.2).
zi = zinfo(zipfile.ZipInfo, "writestr.txt", 3)
zi.external_attr = 0o600 << 16
with zipfile.ZipFile("vectors/zip/y_python-writestr-mode.zip", "w") as z:
    z.writestr(zi, b"no type bits\n")

# ux ids of 8 bytes (what portarc writes for an id past 32 bits, zip-profile §3.1) and of 2 bytes.
def ux(uid, gid, size):
    return struct.pack("<HHB", 0x7875, 3 + 2 * size, 1) + bytes([size]) + uid.to_bytes(size, "little") + bytes([size]) + gid.to_bytes(size, "little")
with zipfile.ZipFile("vectors/zip/y_ux-id-sizes.zip", "w") as z:
    z.writestr(zinfo(zipfile.ZipInfo, "wide.txt", 3, ux(4294967297, 8589934592, 8)), b"8-byte ids\n")
    z.writestr(zinfo(zipfile.ZipInfo, "narrow.txt", 3, ux(1000, 1001, 2)), b"2-byte ids\n")

# Zip damage, from the zip64 vector.
z = open("vectors/zip/y_infozip-zip64.zip", "rb").read()
eocd = z.rfind(b"PK\x05\x06")
cd = z.find(b"PK\x01\x02")
open("vectors/malformed/n_zip-truncated-central.zip", "wb").write(z[: cd + 30])
bad = bytearray(z)
loc64 = z.rfind(b"PK\x06\x07")
struct.pack_into("<Q", bad, loc64 + 8, len(z) + 4096)
open("vectors/malformed/i_zip64-locator-past-end.zip", "wb").write(bad)
# The zip64 end record itself damaged (signature): the end record defers to it, nothing can replace it.
bad = bytearray(z)
bad[z.rfind(b"PK\x06\x06") + 3] ^= 0x40
open("vectors/malformed/n_zip64-end-record-damaged.zip", "wb").write(bad)
# A central header whose 0xFFFFFFFF size asks for a zip64 value its zip64 extra lacks (zip-profile §6.3).
bad = bytearray(z)
c = z.find(b"PK\x01\x02")
nlen = struct.unpack_from("<H", z, c + 28)[0]
e = c + 46 + nlen
assert struct.unpack_from("<HH", z, e) == (1, 8), "first central extra is not an 8-byte zip64 field"
struct.pack_into("<H", bad, e + 2, 0)  # zip64 field emptied; its 8 bytes now read as two empty extras
open("vectors/malformed/n_zip64-missing-size.zip", "wb").write(bad)
PY
