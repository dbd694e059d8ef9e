#!/usr/bin/env python3
"""Write the conformance vectors made with Python's tarfile or by hand (raw header bytes).

Usage: python3 conformance/tools/craft.py VECTORS_DIR
Every byte is fixed (names, owners, times), so two runs write identical files.
"""
import io
import struct
import os
import sys
import tarfile

T0 = 1600000000  # 2020-09-13T12:26:40Z, the fixed mtime of every crafted member


def member(name, data=b"", type=tarfile.REGTYPE, mode=0o644, mtime=T0, pax=None, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.mode = mode
    ti.mtime = mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.linkname = linkname
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    if pax:
        ti.pax_headers = dict(pax)
    return ti, (io.BytesIO(data) if type == tarfile.REGTYPE else None)


def write_tar(path, members, fmt=tarfile.PAX_FORMAT, global_pax=None):
    with tarfile.open(path, "w", format=fmt, pax_headers=global_pax or {}, encoding="utf-8", errors="surrogateescape") as tf:
        for ti, data in members:
            tf.addfile(ti, data)


# ---- raw ustar headers, for the malformed vectors ----

def ustar(name, size=0, type=b"0", mode=0o644, mtime=T0, linkname=b"", bad_checksum=False):
    b = bytearray(512)
    b[0:len(name)] = name
    b[100:108] = b"%07o\0" % mode
    b[108:116] = b"%07o\0" % 0
    b[116:124] = b"%07o\0" % 0
    b[124:136] = b"%011o\0" % size
    b[136:148] = b"%011o\0" % mtime
    b[148:156] = b" " * 8
    b[156:157] = type
    b[157:157 + len(linkname)] = linkname
    b[257:265] = b"ustar\x0000"
    b[265:269] = b"root"
    b[297:301] = b"root"
    b[329:337] = b"%07o\0" % 0
    b[337:345] = b"%07o\0" % 0
    chk = sum(b)
    if bad_checksum:
        chk += 1
    b[148:156] = b"%06o\0 " % chk
    return bytes(b)


def pad(data):
    return data + b"\0" * (-len(data) % 512)


def file_member(name, data):
    return ustar(name, size=len(data)) + pad(data)


def record(key, value):
    """One pax record; the length counts its own digits."""
    body = len(key) + len(value) + 3
    n = body + len(str(body))
    if len(str(n)) != len(str(body)):
        n = body + len(str(n))
    return b"%d %s=%s\n" % (n, key, value)


def pax_member(records, name=b"m/PaxHeaders/x"):
    return ustar(name, size=len(records), type=b"x") + pad(records)


END = b"\0" * 1024


def write_raw(path, data):
    # Whole 10 KiB records, as tar writes them (except where the vector is about truncation).
    with open(path, "wb") as f:
        f.write(data)


def main(out):
    v10 = os.path.join(out, "1.0")
    fut = os.path.join(out, "future")
    mal = os.path.join(out, "malformed")
    for d in (v10, fut, mal):
        os.makedirs(d, exist_ok=True)

    # ---- 1.0/y_python-pax.tar ----
    bad_name = os.fsdecode(b"py/bad-\xff\xfe.bin")  # surrogateescape: Python writes hdrcharset=BINARY
    binary = b"\x00\xff\x01 binary \n=".decode("utf-8", "surrogateescape")
    write_tar(os.path.join(v10, "y_python-pax.tar"), [
        member("py", type=tarfile.DIRTYPE, mode=0o755),
        member("py/caf\u00e9.txt", b"utf-8 name\n", mtime=T0 + 0.5),
        member(bad_name, b"not utf-8\n"),
        member("py/xattr.bin", b"xattrs\n", pax={
            "SCHILY.xattr.user.bin": binary,
            "SCHILY.xattr.user.text": "plain text",
        }),
        member("py/old.txt", b"before 1970\n", mtime=-1000000000),
        member("py/link", type=tarfile.SYMTYPE, mode=0o777, linkname="caf\u00e9.txt"),
    ])

    # ---- future/ ----
    def future(name, global_pax, member_pax=None):
        write_tar(os.path.join(fut, name), [
            member("fut", type=tarfile.DIRTYPE, mode=0o755),
            member("fut/a.txt", b"first file\n", pax=member_pax),
            member("fut/b.txt", b"second file\n"),
        ], global_pax=global_pax)

    future("y_unknown-portarc-key.tar", {"PORTARC.version": "1.1", "PORTARC.newthing": "1"})
    future("y_unknown-vendor-key.tar", {"PORTARC.version": "1.0"}, {"ACME.colour": "blue"})
    future("y_unknown-keys-both.tar", {"PORTARC.version": "1.1", "PORTARC.newthing": "1"}, {"ACME.colour": "blue"})
    future("y_unknown-vendor-key-global.tar", {"PORTARC.version": "1.0", "ACME.colour": "blue"})
    future("y_compat-feature.tar", {"PORTARC.version": "1.3", "PORTARC.features.compat": "shiny"})
    future("y_rocompat-feature.tar", {"PORTARC.version": "1.3", "PORTARC.features.rocompat": "shiny"})
    future("n_incompat-feature.tar", {"PORTARC.version": "1.3", "PORTARC.features.incompat": "shiny"})
    future("n_major-version-2.tar", {"PORTARC.version": "2.0"})

    # ---- malformed/ (raw bytes) ----
    a = file_member(b"m/a.txt", b"first file\n")
    # The second header's checksum is off by one.
    write_raw(os.path.join(mal, "n_bad-checksum.tar"),
              a + ustar(b"m/b.txt", size=12, bad_checksum=True) + pad(b"second file\n") + END)
    # The header says 2000 bytes; the archive ends 700 bytes into the data.
    write_raw(os.path.join(mal, "n_truncated-data.tar"),
              a + ustar(b"m/big.bin", size=2000) + bytes(range(256)) * 2 + bytes(188))
    # The archive ends 300 bytes into the second member's header.
    write_raw(os.path.join(mal, "n_truncated-header.tar"), a + file_member(b"m/b.txt", b"second file\n")[:300])
    # A pax record whose length (20) is shorter than the record (26 bytes): byte 20 is not a newline.
    rec = b"26 path=m/renamed-one.txt\n"
    assert len(rec) == 26
    write_raw(os.path.join(mal, "n_bad-pax-length.tar"),
              a + pax_member(rec.replace(b"26 ", b"20 ")) + file_member(b"m/b.txt", b"second file\n") + END)
    # A pax record whose length (40) runs past the header's data (18 bytes) into the block padding.
    rec = b"18 path=m/renamed\n"
    assert len(rec) == 18
    write_raw(os.path.join(mal, "n_pax-record-past-end.tar"),
              a + pax_member(rec.replace(b"18 ", b"40 ")) + file_member(b"m/b.txt", b"second file\n") + END)
    # Records after NUL padding: uname, a NUL, then an xattr record (a damaged header, spec §4.3.3 step 1).
    recs = record(b"uname", b"alice") + b"\x00" + record(b"SCHILY.xattr.user.a", b"1")
    write_raw(os.path.join(mal, "n_pax-records-after-nul.tar"),
              a + pax_member(recs) + file_member(b"m/b.txt", b"second file\n") + END)
    # GNU sparse 1.0 whose one data run (50 bytes at offset 80) ends past the real size (100).
    sparse = record(b"GNU.sparse.major", b"1") + record(b"GNU.sparse.minor", b"0") + \
        record(b"GNU.sparse.name", b"m/sparse.bin") + record(b"GNU.sparse.realsize", b"100")
    smap = pad(b"1\n80\n50\n")
    write_raw(os.path.join(mal, "n_sparse-run-past-size.tar"),
              a + pax_member(sparse) + ustar(b"m/GNUSparseFile.0/sparse.bin", size=len(smap) + 50) + pad(smap + b"s" * 50) + END)
    # No end-of-archive blocks at all: spec §4.7 reads both members, with one archive warning.
    write_raw(os.path.join(mal, "y_no-end-of-archive.tar"), a + file_member(b"m/b.txt", b"second file\n"))
    # Unreadable ACL text next to a valid raw ACL xattr (user::rw-, group::r--, other::r--): whether
    # a reader falls back to the raw xattr is its choice (spec §5.4.4, C.12).
    raw = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, 0xFFFFFFFF) for t, p in ((0x01, 6), (0x04, 4), (0x20, 4)))
    recs = record(b"SCHILY.acl.access", b"user::rw-,bogus") + record(b"SCHILY.xattr.system.posix_acl_access", raw)
    write_raw(os.path.join(mal, "i_acl-text-unreadable.tar"),
              a + pax_member(recs) + file_member(b"m/b.txt", b"second file\n") + END)

    precision(v10)


def global_member(records, name=b"pax_global_header"):
    return ustar(name, size=len(records), type=b"g") + pad(records)


def precision(v10):
    """Spec points a second reader written from spec/ alone found ambiguous (issue #9): one vector each."""
    a = file_member(b"m/a.txt", b"first file\n")
    b = file_member(b"m/b.txt", b"second file\n")
    version = record(b"PORTARC.version", b"1.0")

    # §4.5/§6.1: a g header is not a pending extension header: alone before the end blocks it is the
    # valid empty archive; before EOF it is an archive without end blocks (a warning, not an error).
    write_raw(os.path.join(v10, "y_global-header-only.tar"), global_member(version) + END)
    write_raw(os.path.join(v10, "y_global-header-no-end.tar"), global_member(version))
    # ...while an x header before the end blocks is an error.
    write_raw(os.path.join(v10, "n_x-header-then-end.tar"), a + pax_member(record(b"mtime", b"1")) + END)

    # §4.7: a zero block where a member's header was, with a header after it (a lone zero block)
    # is damage, not the end of the archive; data after the end blocks is said in a warning.
    c = file_member(b"m/c.txt", b"third file\n")
    write_raw(os.path.join(v10, "n_lone-zero-block.tar"), a + b"\0" * 512 + b[512:] + c + END)
    write_raw(os.path.join(v10, "y_data-after-end.tar"), a + END + b + END)

    # §4.2.2: devmajor/devminor are parsed for devices only; bytes after a numeric field's terminator
    # are ignored.
    h = bytearray(ustar(b"m/dev-junk.txt", size=12))
    h[329:345] = b"junk!!!\0\xff\xfe??   \0"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    after = bytearray(ustar(b"m/after-terminator.txt", size=12))
    after[100:108] = b"640 x7\0\0"   # mode 0640, then junk after the space
    after[108:116] = b"1750\0abc"     # uid 1000
    after[148:156] = b" " * 8
    after[148:156] = b"%06o\0 " % sum(after)
    write_raw(os.path.join(v10, "y_numeric-fields.tar"),
              bytes(h) + pad(b"second file\n") + bytes(after) + pad(b"second file\n") + END)

    # §6.2 step 3: keywords on a type they do not apply to are ignored, one notice per x record,
    # silently from a g header (where linkpath still applies to the symlink).
    wrong_file = record(b"linkpath", b"m/elsewhere") + record(b"SCHILY.devmajor", b"8") + record(b"SCHILY.devminor", b"1")
    wrong_dir = record(b"GNU.sparse.major", b"1") + record(b"GNU.sparse.minor", b"0") + record(b"GNU.sparse.realsize", b"100")
    write_raw(os.path.join(v10, "y_keywords-wrong-type.tar"),
              global_member(version + record(b"linkpath", b"m/from-global")) +
              pax_member(wrong_file, b"m/PaxHeaders/a.txt") + file_member(b"m/a.txt", b"first file\n") +
              pax_member(wrong_dir, b"m/PaxHeaders/d") + ustar(b"m/d/", type=b"5", mode=0o755) +
              pax_member(record(b"SCHILY.devmajor", b"8"), b"m/PaxHeaders/link") + ustar(b"m/link", type=b"2", mode=0o777, linkname=b"a.txt") +
              END)

    # §5.2.2: LIBARCHIVE.xattr values are strict base64 (padding optional); a SCHILY name is
    # URL-decoded once to find its LIBARCHIVE twin.
    import base64 as b64
    recs = record(b"LIBARCHIVE.xattr.user.bad", b"!!not base64!!") + \
        record(b"LIBARCHIVE.xattr.user.padded", b64.b64encode(b"tw")) + \
        record(b"LIBARCHIVE.xattr.user.bare", b64.b64encode(b"tw").rstrip(b"=")) + \
        record(b"SCHILY.xattr.user.x%2541", b"one") + \
        record(b"LIBARCHIVE.xattr.user.x%41", b64.b64encode(b"two")) + \
        record(b"SCHILY.xattr.user.sp%20ace", b"twin") + \
        record(b"LIBARCHIVE.xattr.user.sp%20ace", b64.b64encode(b"twin"))
    write_raw(os.path.join(v10, "y_libarchive-xattr-base64.tar"), pax_member(recs, b"m/PaxHeaders/a.txt") + a + END)

    # §5.5.2: a sparse member without its real size, and an unknown sparse format version.
    smap = pad(b"1\n0\n5\n")
    sp = lambda recs: pax_member(recs, b"m/PaxHeaders/s") + ustar(b"m/GNUSparseFile.0/s", size=len(smap) + 5) + pad(smap + b"sssss")
    write_raw(os.path.join(v10, "n_sparse-no-real-size.tar"),
              a + sp(record(b"GNU.sparse.major", b"1") + record(b"GNU.sparse.minor", b"0") + record(b"GNU.sparse.name", b"m/s")) + END)
    write_raw(os.path.join(v10, "n_sparse-minor-1.tar"),
              a + sp(record(b"GNU.sparse.major", b"1") + record(b"GNU.sparse.minor", b"1") + record(b"GNU.sparse.name", b"m/s") + record(b"GNU.sparse.realsize", b"5")) + END)

    # §4.3.1: an empty keyword is malformed; an empty path is an invalid value (not POSIX's "delete").
    write_raw(os.path.join(v10, "n_pax-empty-keyword.tar"), a + pax_member(record(b"", b"x")) + b + END)
    write_raw(os.path.join(v10, "y_pax-empty-path.tar"), a + pax_member(record(b"path", b"")) + b + END)

    # §6.1/§7: several g headers: the last version stated wins, features are listed once, an unknown
    # key is one notice for the archive however often it comes.
    g1 = version + record(b"PORTARC.features.compat", b"shiny") + record(b"ACME.colour", b"blue")
    g2 = record(b"PORTARC.version", b"1.1") + record(b"PORTARC.features.compat", b"shiny,sparkly") + \
        record(b"ACME.colour", b"red") + record(b"PORTARC.newthing", b"1")
    write_raw(os.path.join(v10, "y_global-headers-repeated.tar"), global_member(g1) + a + global_member(g2, b"pax_global_header.2") + b + END)


if __name__ == "__main__":
    main(sys.argv[1])
