#!/usr/bin/env bash
# The zip vectors: portarc's own (converted from 1.0/y_portarc-full.tar) and ones made by Info-ZIP
# zip, bsdtar and 7-Zip from the same small tree, plus two damaged copies. Run from conformance/
# after `npx tsc`. Expected JSONs: see README (drafted with tools/draft-expected.mjs, reviewed).
set -euo pipefail
V=vectors/zip
mkdir -p "$V"
node ../bin/portarc.js convert --no-compress vectors/1.0/y_portarc-full.tar "$V/y_portarc-full.zip" 2>/dev/null
node tools/zip-overflow-vectors.mjs
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/t/sub"
printf 'hello\n' > "$W/t/a.txt"
printf 'exec' > "$W/t/sub/run.sh"
printf 'uni' > "$W/t/naïve.txt"
chmod 755 "$W/t/sub/run.sh"
chmod 640 "$W/t/a.txt"
ln -s a.txt "$W/t/link"
touch -d @1600000000 "$W/t/a.txt" "$W/t/sub/run.sh" "$W/t/naïve.txt" "$W/t/sub" "$W/t"
touch -h -d @1600000000 "$W/t/link"
(cd "$W" && TZ=UTC zip -q -X -y -r infozip-X.zip t && TZ=UTC zip -q -y -r infozip.zip t && bsdtar --format=zip -cf bsdtar.zip t && 7z a -snl -bd -bso0 7zip.zip t)
for n in infozip-X infozip bsdtar 7zip; do cp "$W/$n.zip" "$V/y_$n.zip"; done
# UT times with bit 31 set (zip-profile §3.2): after 2038 (DOS date 2040, 2100) and before 1970
# (DOS date clamped to 1980), as Info-ZIP zip writes both.
mkdir -p "$W/y/t"
printf a > "$W/y/t/y2100"; printf b > "$W/y/t/y2040"; printf c > "$W/y/t/y1960"
touch -d '2100-01-01 00:00Z' "$W/y/t/y2100"; touch -d '2040-06-01 12:00Z' "$W/y/t/y2040"; touch -d '1960-06-01 00:00Z' "$W/y/t/y1960"
touch -d @1600000000 "$W/y/t"
(cd "$W/y" && TZ=UTC zip -q -r "$OLDPWD/$V/y_infozip-ut-bit31.zip" t)
# Two archives concatenated: the end records name the second (zip-profile §6.1 item 4).
cat "$V/y_infozip-X.zip" "$V/y_infozip.zip" > "$V/y_zip-appended.zip"
python3 - <<'PY'
z = open('vectors/zip/y_infozip-X.zip', 'rb').read()
i = z.find(b'PK\x03\x04')
while i != -1:
    nlen = int.from_bytes(z[i + 26:i + 28], 'little')
    elen = int.from_bytes(z[i + 28:i + 30], 'little')
    if z[i + 30:i + 30 + nlen] == b't/a.txt':
        bad = bytearray(z); bad[i + 30 + nlen + elen] ^= 0x20
        open('vectors/malformed/n_zip-bad-crc.zip', 'wb').write(bad)
        mis = bytearray(z); mis[i + 30 + nlen - 1] = ord('X')
        open('vectors/malformed/n_zip-local-central-mismatch.zip', 'wb').write(mis)
        break
    i = z.find(b'PK\x03\x04', i + 4)
PY
