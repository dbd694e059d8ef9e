#!/usr/bin/env python3
"""A second, independent adapter for the portarc conformance suite, over Python's tarfile.

It exists to cross-check the expected results (which were drafted with the reference adapter) with
code that shares nothing with portarc: Python's tarfile decodes the headers, names, pax values and
sparse maps and expands the content; this file adds what tarfile lacks for the protocol (strict
pax-record and header checks, ns times, the xattr/SELinux/ACL keywords, PORTARC.* rules).
It is not normative: where it and the spec disagree, the spec wins.

Usage: node conformance/run.mjs --adapter "python3 conformance/adapters/python-tarfile.py"
Exit 0/1/2 as in conformance/README.md; 3 on a crash.
"""
import base64
import hashlib
import io
import re
import sys
import tarfile

SPEC_MAJOR, SPEC_MINOR = 1, 0
KNOWN_FEATURES = {"compat": set(), "rocompat": set(), "incompat": set()}


class Refused(Exception):
    pass


# ---- a raw walk over the headers: strict checks, and the pax records of each member ----

def octal(field):
    if field and field[0] & 0x80:  # base-256
        v = int.from_bytes(field, "big", signed=False)
        v &= (1 << (8 * len(field) - 1)) - 1
        if field[0] & 0x40:
            v -= 1 << (8 * len(field) - 1)
        return v
    # Spec §4.2.2: leading spaces/NULs skipped, digits up to a space or NUL, the rest not looked at.
    m = re.match(rb"[ \0]*([0-7]*)(?:[ \0]|$)", field)
    if not m:
        raise Refused("bad octal field %r" % field)
    return int(m.group(1) or b"0", 8)


# Numeric fields that tarfile parses itself (its own stricter rule): rewritten canonically first.
NUMERIC = ((100, 8), (108, 8), (116, 8), (124, 12), (136, 12), (329, 8), (337, 8))
TYPE_OF = {b"0": "file", b"\0": "file", b"7": "file", b"S": "file", b"1": "hardlink", b"2": "symlink",
           b"3": "chardev", b"4": "blockdev", b"5": "directory", b"D": "directory", b"6": "fifo"}


def applies(key, typ):
    """Spec §6.2 step 3: keywords that mean something for some entry types only."""
    if key == "linkpath":
        return typ in ("symlink", "hardlink")
    if key in ("SCHILY.devmajor", "SCHILY.devminor"):
        return typ in ("chardev", "blockdev")
    if key.startswith("GNU.sparse.") or key == "SCHILY.realsize":
        return typ == "file"
    return True


def normalized_header(block, typ):
    """The header with its octal fields rewritten canonically (dev numbers zeroed off devices)."""
    b = bytearray(block)
    device = typ in (b"3", b"4")
    for off, width in NUMERIC:
        if off >= 329 and not device:
            b[off:off + width] = b"0" * (width - 1) + b"\0"
        elif not b[off] & 0x80:
            b[off:off + width] = b"%0*o\0" % (width - 1, octal(bytes(b[off:off + width])))
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\0 " % sum(b)
    return bytes(b)


def pax_header(records):
    data = b"".join(pax_record(k.encode("utf-8", "surrogateescape"), v) for k, v in records)
    h = bytearray(512)
    h[0:14] = b"PaxHeaders/xx\0"[:14]
    for off, width, v in ((100, 8, 0o644), (108, 8, 0), (116, 8, 0), (124, 12, len(data)), (136, 12, 0)):
        h[off:off + width] = b"%0*o\0" % (width - 1, v)
    h[156:157] = b"x"
    h[257:265] = b"ustar\x0000"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h) + data + bytes(-len(data) % 512)


def pax_record(key, value):
    body = len(key) + len(value) + 3
    n = body + len(str(body))
    if len(str(n)) != len(str(body)):
        n = body + len(str(n))
    return b"%d %s=%s\n" % (n, key, value)


def pax_records(data):
    """Strict: each record's length must end exactly on its newline, inside the data."""
    out = []
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding after the last record
            break
        m = re.match(rb"(\d{1,20}) ", data[pos:])
        if not m:
            raise Refused("pax record without a length at %d" % pos)
        n = int(m.group(1))
        end = pos + n
        if n <= len(m.group(0)) or end > len(data):
            raise Refused("pax record length %d runs past the header data" % n)
        if data[end - 1] != 0x0A:
            raise Refused("pax record of length %d does not end with a newline" % n)
        body = data[pos + len(m.group(0)):end - 1]
        if b"=" not in body:
            raise Refused("pax record without '='")
        k, v = body.split(b"=", 1)
        if not k:
            raise Refused("pax record with an empty keyword")
        out.append((k.decode("utf-8", "surrogateescape"), v))
        pos = end
    return out


def plausible_header(block):
    """A block with a right checksum and ustar magic (or v7's none): a header (spec §6.8)."""
    if block[257:263] not in (b"ustar\0", b"ustar ", bytes(6)) or block == bytes(512):
        return False
    try:
        chk = octal(block[148:156])
    except Exception:
        return False
    return chk == sum(block[:148]) + 256 + sum(block[156:])


def raw_walk(data):
    """Per member (local_records, globals_snapshot, gnu_name); refuse what tarfile would let pass.

    Also returns a normalized copy of the archive for tarfile: canonical octal fields (spec §4.2.2),
    and x headers without the records that do not apply to the member's type (§6.2) or whose value
    is an empty path or link path (§4.3.3), which tarfile would apply.
    """
    pos = 0
    glob = []
    local = []
    pending = False
    members = []
    out = bytearray()
    held = bytearray()  # L/K headers of the next member
    while True:
        if pos == len(data):
            if pending:
                raise Refused("archive ends after an extension header")
            return members, glob, False, bytes(out) + bytes(1024), None  # no end-of-archive blocks
        block = data[pos:pos + 512]
        if len(block) < 512:
            raise Refused("archive is truncated inside a header block at %d" % pos)
        if block == bytes(512):
            if pending:
                raise Refused("end of archive after an extension header")
            # Spec §4.7: a zero block with a header after it (a lone zero block) is damage...
            nxt = data[pos + 512:pos + 1024]
            if len(nxt) == 512 and nxt != bytes(512):
                for at in range(pos + 512, len(data) - 511, 512):
                    if plausible_header(data[at:at + 512]):
                        raise Refused("a lone zero block at %d: a header follows at %d" % (pos, at))
            # ...and data after the end that is neither zeros nor embedded recovery data is said.
            rest = data[pos + 512:pos + 512 + (1 << 20)]
            left = rest.lstrip(b"\0")
            at = pos + 512 + len(rest) - len(left)
            trailing = at if left and not left.startswith(b"PAR2\0PKT") else None
            return members, glob, True, bytes(out) + bytes(1024), trailing
        chk = octal(block[148:156])
        unsigned = sum(block[:148]) + 256 + sum(block[156:])
        signed = sum(b - 256 if b > 127 else b for b in block[:148] + b" " * 8 + block[156:])
        if chk not in (unsigned, signed):
            raise Refused("header checksum mismatch at %d" % pos)
        typ = block[156:157]
        size = octal(block[124:136])
        start = pos
        pos += 512
        if typ in (b"x", b"g"):
            if pos + size > len(data):
                raise Refused("archive is truncated inside a pax header")
            recs = pax_records(data[pos:pos + size])
            pos += -(-size // 512) * 512
            if typ == b"g":
                glob = glob + recs
                out += data[start:pos]
            else:
                local = local + recs
                pending = True
            continue
        if typ in (b"L", b"K"):
            pos += -(-size // 512) * 512
            held += data[start:pos]
            pending = True
            continue
        head_end = pos
        if typ == b"S" and block[482]:
            while True:  # old GNU sparse extension blocks
                ext = data[pos:pos + 512]
                if len(ext) < 512:
                    raise Refused("archive is truncated inside a sparse header")
                pos += 512
                if not ext[504]:
                    break
        kind = TYPE_OF.get(typ, "file")
        last = dict(local)
        sparse = [(k, v) for k, v in glob + local if k.startswith("GNU.sparse.") and applies(k, kind)]
        keys = dict(sparse)
        if "GNU.sparse.major" in keys or "GNU.sparse.minor" in keys:
            form = (keys.get("GNU.sparse.major", b"0"), keys.get("GNU.sparse.minor", b"0"))
            if form != (b"1", b"0") and not (form[0] == b"0" and ("GNU.sparse.map" in keys or "GNU.sparse.offset" in keys)):
                raise Refused("GNU sparse format %s.%s is not supported" % (form[0].decode(), form[1].decode()))
        if (keys.get("GNU.sparse.major") == b"1" or "GNU.sparse.map" in keys or "GNU.sparse.offset" in keys) \
                and not any(k in keys for k in ("GNU.sparse.realsize", "GNU.sparse.size")) and "SCHILY.realsize" not in last:
            raise Refused("sparse member has no real size")
        for k, v in local:
            if k == "size":
                size = int(v)
        if typ in (b"1", b"2", b"3", b"4", b"5", b"6"):
            size = 0  # links, devices, fifos, directories: a size here is not data (tarfile's view)
        if pos + size > len(data):
            raise Refused("archive is truncated inside member data")
        pos += -(-size // 512) * 512
        if pos > len(data):
            raise Refused("archive is truncated inside member padding")
        keep = [(k, v) for k, v in local if applies(k, kind) and not (k in ("path", "linkpath") and v == b"")]
        if keep:
            out += pax_header(keep)
        out += held + normalized_header(block, typ) + data[head_end:pos]
        held = bytearray()
        # tarfile reads old GNU atime/ctime (offset 345, GNU magic) as a ustar prefix: note the
        # header's own name so that entry_json can undo that.
        gnu_name = block[0:100].split(b"\0", 1)[0] if block[257:265] == b"ustar  \0" else None
        members.append((local, list(glob), gnu_name))
        local = []
        pending = False


# ---- metadata keywords ----

KNOWN_KEYS = {
    "path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime",
    "charset", "comment", "hdrcharset", "RHT.security.selinux", "SCHILY.acl.access",
    "SCHILY.acl.default", "SCHILY.devmajor", "SCHILY.devminor", "SCHILY.dev", "SCHILY.ino",
    "SCHILY.nlink", "SCHILY.filetype", "SCHILY.realsize", "SCHILY.fflags", "GNU.dumpdir",
    "LIBARCHIVE.symlinktype", "LIBARCHIVE.creationtime",
}


def known(key):
    return key in KNOWN_KEYS or key.startswith(("SCHILY.xattr.", "LIBARCHIVE.xattr.", "GNU.sparse.", "GNU.volume."))


def url_decode(name):
    raw = name.encode("utf-8", "surrogateescape")
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw).decode("utf-8", "surrogateescape")


def pax_time_ns(text):
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d*))?", text)
    if not m:
        return None
    ns = int(m.group(2)) * 10**9 + int((m.group(3) or "")[:9].ljust(9, "0"))
    return -ns if m.group(1) else ns


TAGS = {"user_obj": 1, "user": 2, "group_obj": 4, "group": 8, "mask": 16, "other": 32}


def acl_from_text(text):
    out = []
    for item in re.split(r"[,\n]", text):
        item = item.split("#", 1)[0].strip()
        if not item:
            continue
        f = item.split(":")
        kind = {"u": "user", "g": "group", "m": "mask", "o": "other"}.get(f[0], f[0])
        if len(f) not in (3, 4) or kind not in ("user", "group", "mask", "other") or not re.fullmatch(r"[rwx-]*", f[2]) \
                or (len(f) == 4 and f[3] and not f[3].isdigit()):
            raise ValueError("ACL entry %r is malformed" % item)
        perm = (4 if "r" in f[2] else 0) | (2 if "w" in f[2] else 0) | (1 if "x" in f[2] else 0)
        if kind in ("mask", "other"):
            out.append({"tag": kind, "perm": perm})
        elif f[1] == "":
            out.append({"tag": kind + "_obj", "perm": perm})
        else:
            e = {"tag": kind, "perm": perm}
            if f[1].isdigit():
                e["id"] = int(f[1])
            else:
                e["name"] = f[1]
            if len(f) > 3 and f[3]:
                e["id"] = int(f[3])
            out.append(e)
    return sort_acl(out)


def acl_from_xattr(raw):
    if len(raw) < 4 or (len(raw) - 4) % 8 or int.from_bytes(raw[:4], "little") != 2:
        raise ValueError("bad ACL xattr")
    codes = {v: k for k, v in TAGS.items()}
    out = []
    for i in range(4, len(raw), 8):
        tag = codes[int.from_bytes(raw[i:i + 2], "little")]
        e = {"tag": tag, "perm": int.from_bytes(raw[i + 2:i + 4], "little") & 7}
        if tag in ("user", "group"):
            e["id"] = int.from_bytes(raw[i + 4:i + 8], "little")
        out.append(e)
    return sort_acl(out)


def sort_acl(entries):
    return sorted(entries, key=lambda e: (TAGS[e["tag"]], e.get("id", 0)))


def b(s):
    return s.encode("utf-8", "surrogateescape")


def text_and_base64(out, key, raw):
    try:
        out[key] = raw.decode("utf-8")
    except UnicodeDecodeError:
        out[key] = raw.decode("utf-8", "backslashreplace")
        out[key + "Base64"] = base64.b64encode(raw).decode()


TYPES = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file", tarfile.GNUTYPE_SPARSE: "file",
    tarfile.LNKTYPE: "hardlink", tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "chardev",
    tarfile.BLKTYPE: "blockdev", tarfile.DIRTYPE: "directory", tarfile.FIFOTYPE: "fifo", b"D": "directory",
}


def entry_json(tf, ti, local, glob, gnu_name, warnings, notices):
    out = {}
    if gnu_name is not None:
        full, own = b(ti.name).rstrip(b"/"), gnu_name.rstrip(b"/")
        prefix = full[: -len(own) - 1] if full.endswith(b"/" + own) else b""
        if prefix and re.fullmatch(rb"[0-7 ]+", prefix):  # the atime field, taken for a prefix
            ti.name = gnu_name.decode("utf-8", "surrogateescape")
    typ = TYPES.get(ti.type)
    if typ is None:
        typ = "file"
        warnings.append("%s: unknown type %r read as a file" % (ti.name, ti.type))
    if ti.type == b"D" and "GNU incremental dump: dumpdir deletions not applied" not in notices:
        notices.append("GNU incremental dump: dumpdir deletions not applied")  # spec §6.3: once per archive
    path = b(ti.name).rstrip(b"/") if typ == "directory" else b(ti.name)
    text_and_base64(out, "path", path)
    records = [(k, v) for k, v in glob if known(k)] + local
    last = {}
    for k, v in records:
        last[k] = v
    mtime = pax_time_ns(last["mtime"].decode()) if "mtime" in last else int(ti.mtime) * 10**9
    out.update(type=typ, size=ti.size if typ == "file" else 0, mode=ti.mode & 0o7777, uid=ti.uid, gid=ti.gid,
               uname=ti.uname, gname=ti.gname, mtimeNs=str(mtime))
    if typ in ("symlink", "hardlink") and ti.linkname:
        text_and_base64(out, "linkTarget", b(ti.linkname))
    if typ in ("chardev", "blockdev"):
        out["devMajor"], out["devMinor"] = ti.devmajor, ti.devminor
    schily = {}
    libarchive = {}
    for k, v in records:
        if k.startswith("SCHILY.xattr."):
            schily[k[13:]] = v
        elif k.startswith("LIBARCHIVE.xattr."):
            text = v.replace(b"_", b"=")
            bare = text.rstrip(b"=")
            if not re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", text) or len(bare) % 4 == 1 or (len(text) > len(bare) and len(text) % 4):
                warnings.append("%s: %s is not valid base64" % (ti.name, k))  # spec §5.2.2
                continue
            libarchive[url_decode(k[17:])] = base64.b64decode(bare + b"=" * (-len(bare) % 4))
    xattrs = {}
    for name, v in schily.items():
        gnu = name.replace("%3D", "=").replace("%3d", "=").replace("%25", "%")
        if libarchive and url_decode(name) in libarchive:
            continue  # libarchive's duplicate of a LIBARCHIVE.xattr record
        xattrs[gnu] = v
    xattrs.update(libarchive)
    label = xattrs.pop("security.selinux", None)
    if "RHT.security.selinux" in last:
        out_label = last["RHT.security.selinux"]
    else:
        out_label = label
    acl_raw = {c: xattrs.pop("system.posix_acl_" + c, None) for c in ("access", "default")}
    out["xattrs"] = {k: base64.b64encode(v).decode() for k, v in sorted(xattrs.items())}
    if out_label is not None:
        out["selinux"] = out_label.rstrip(b"\0").decode("utf-8", "surrogateescape")
    for c, key in (("access", "aclAccess"), ("default", "aclDefault")):
        try:
            if "SCHILY.acl." + c in last:
                try:
                    out[key] = acl_from_text(last["SCHILY.acl." + c].decode())
                except ValueError as e:
                    # Spec §5.4.4 leaves the fallback open (C.12): this adapter uses the raw xattr.
                    warnings.append("%s: %s ACL text not readable: %s" % (ti.name, c, e))
                    if acl_raw[c] is not None:
                        out[key] = acl_from_xattr(acl_raw[c])
            elif acl_raw[c] is not None:
                out[key] = acl_from_xattr(acl_raw[c])
        except (ValueError, KeyError) as e:
            warnings.append("%s: %s ACL not readable: %s" % (ti.name, c, e))
            out.pop(key, None)
    if typ == "file" and ti.sparse is not None:
        # Spec §6.6: runs ascending, not overlapping, inside the real size (tarfile does not check).
        end = 0
        for offset, length in ti.sparse:
            if offset < end or offset + length > ti.size:
                raise Refused("%s: sparse run %d+%d out of order or past the size %d" % (ti.name, offset, length, ti.size))
            end = offset + length
    if typ == "file":
        f = tf.extractfile(ti)
        h = hashlib.sha256()
        got = 0
        if f is not None:
            while True:
                chunk = f.read(1 << 16)
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
        if got != ti.size:
            raise Refused("%s: content is %d bytes, size says %d" % (ti.name, got, ti.size))
        out["sha256"] = h.hexdigest()
    for k, v in local:
        if not known(k):
            notices.append("%s: unknown pax keyword %s" % (ti.name, k))  # spec §6.5: a notice, exit 0
        elif not applies(k, typ):
            notices.append("%s: %s does not apply to a %s" % (ti.name, k, typ))  # spec §6.2 step 3
        elif k in ("path", "linkpath") and v == b"":
            warnings.append("%s: empty %s ignored" % (ti.name, k))  # spec §4.3.3
    return out


def apply_globals(glob, doc, warnings, notices):
    for k, v in glob:
        if not k.startswith("PORTARC."):
            continue
        sub = k[8:]
        text = v.decode("utf-8", "surrogateescape")
        if sub == "version":
            m = re.fullmatch(r"(\d+)\.(\d+)", text)
            if not m:
                warnings.append("PORTARC.version %r ignored" % text)
                continue
            doc["version"] = text
            if int(m.group(1)) > SPEC_MAJOR:
                raise Refused("archive needs spec %s; this reader implements %d.%d" % (text, SPEC_MAJOR, SPEC_MINOR))
        elif sub == "creator":
            pass
        elif sub in ("features.compat", "features.rocompat", "features.incompat"):
            cls = sub[9:]
            names = [n for n in dict.fromkeys(text.split(",")) if n and n not in doc["features"][cls]]
            doc["features"][cls] += names
            for n in names:
                if n in KNOWN_FEATURES[cls]:
                    continue
                if cls == "incompat":
                    raise Refused("archive needs incompatible feature %r" % n)
                if cls == "rocompat":
                    warnings.append("unknown read-only-compatible feature %r" % n)
        elif ("unknown archive keyword %s" % k) not in notices:
            notices.append("unknown archive keyword %s" % k)


def global_notices(glob, notices):
    """Spec §6.5: an unknown non-PORTARC key in a g header is one archive notice, not applied."""
    for k in dict.fromkeys(k for k, _ in glob):
        if not k.startswith("PORTARC.") and not known(k):
            notices.append("unknown global keyword %s" % k)


def main():
    data = sys.stdin.buffer.read()
    doc = {"version": None, "features": {"compat": [], "rocompat": [], "incompat": []}, "warnings": [], "entries": []}
    members, glob, ended, normalized, trailing = raw_walk(data)
    warnings = []
    notices = []
    # PORTARC.* rules first: an incompatible feature refuses the archive before any entry.
    apply_globals(glob, doc, warnings, notices)
    global_notices(glob, notices)
    if not ended:
        warnings.append("archive ends without its end-of-archive blocks")
    if trailing is not None:
        warnings.append("data follows the end of the archive, at offset %d, and was not read" % trailing)
    if not members:  # an empty archive (a g header alone): tarfile would call it unreadable
        doc["warnings"], doc["notices"] = warnings, notices
        return doc
    tf = tarfile.open(fileobj=io.BytesIO(normalized), mode="r:", encoding="utf-8", errors="surrogateescape")
    infos = tf.getmembers()
    if len(infos) != len(members):
        raise Refused("tarfile found %d members, the raw walk %d" % (len(infos), len(members)))
    for ti, (local, g, gnu_name) in zip(infos, members):
        doc["entries"].append(entry_json(tf, ti, local, g, gnu_name, warnings, notices))
    doc["warnings"] = warnings
    doc["notices"] = notices
    return doc


if __name__ == "__main__":
    import json
    try:
        d = main()
    except (Refused, tarfile.TarError) as e:
        sys.stderr.write("python-tarfile adapter: refused: %s\n" % e)
        sys.exit(2)
    except Exception:  # a bug here is a crash (exit 3), never a verdict
        import traceback
        traceback.print_exc()
        sys.exit(3)
    sys.stdout.write(json.dumps(d, indent=1) + "\n")
    sys.exit(1 if d["warnings"] else 0)
