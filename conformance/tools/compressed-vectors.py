#!/usr/bin/env python3
"""Make the compressed vectors from the 1.0 tar vectors (expected JSONs are the tar vectors' own,
since decompression must not change a single entry), and one with a damaged zstd frame.
Run from conformance/ after `npx tsc` (the seekable one is made by portarc's compressor).
"""
import gzip, json, struct, subprocess, sys

V = 'vectors'
def expected_from(src, name, description, made_by):
    d = json.load(open(f'{V}/1.0/{src}.json'))
    d['description'] = description
    d['madeBy'] = made_by
    with open(f'{V}/compressed/{name}.json', 'w') as f:
        json.dump(d, f, indent=2, ensure_ascii=False)
        f.write('\n')

ustar = open(f'{V}/1.0/y_gnutar-ustar.tar', 'rb').read()
open(f'{V}/compressed/y_gzip-ustar.tar.gz', 'wb').write(gzip.compress(ustar, 9, mtime=0))
expected_from('y_gnutar-ustar', 'y_gzip-ustar', 'The same archive as y_gnutar-ustar, gzip-compressed: recognised by its magic bytes, the same entries.', 'gzip level 9, mtime 0 (python3 gzip)')
half = len(ustar) // 2
open(f'{V}/compressed/y_gzip-two-members.tar.gz', 'wb').write(gzip.compress(ustar[:half], mtime=0) + gzip.compress(ustar[half:], mtime=0))
expected_from('y_gnutar-ustar', 'y_gzip-two-members', '1.0/y_gnutar-ustar.tar split in two gzip members (as pigz or concatenation makes): a reader decompresses every member, as gzip -d does.', 'python3 gzip.compress of each half, concatenated')
subprocess.run(['zstd', '-q', '-f', '-19', f'{V}/1.0/y_gnutar-ustar.tar', '-o', f'{V}/compressed/y_zstd-single-frame.tar.zst'], check=True)
expected_from('y_gnutar-ustar', 'y_zstd-single-frame', 'The same archive as y_gnutar-ustar, compressed by the zstd program into one frame with no seek table.', 'zstd -19 (zstd 1.5.4)')
subprocess.run(['node', 'tools/compress-vector.mjs', f'{V}/1.0/y_portarc-full.tar', f'{V}/compressed/y_portarc-seekable.tar.zst'], check=True)
expected_from('y_portarc-full', 'y_portarc-seekable', 'The same archive as y_portarc-full in portarc\'s seekable zstd form: 8 KiB frames and a seek table in a skippable frame, which a reader may use or skip.', 'portarc compressor (tools/compress-vector.mjs, frameSize 8192)')

# Damage: flip one byte in the middle of the third frame, found through the seek table.
z = bytearray(open(f'{V}/compressed/y_portarc-seekable.tar.zst', 'rb').read())
n = struct.unpack('<I', z[-9:-5])[0]
size = 12 if z[-5] & 0x80 else 8
table = len(z) - 9 - n * size
sizes = [struct.unpack('<I', z[table + i * size:table + i * size + 4])[0] for i in range(n)]
at = sizes[0] + sizes[1] + sizes[2] // 2
z[at] ^= 0x55
open(f'{V}/malformed/n_zstd-corrupt-frame.tar.zst', 'wb').write(bytes(z))
with open(f'{V}/malformed/n_zstd-corrupt-frame.json', 'w') as f:
    json.dump({'description': 'compressed/y_portarc-seekable.tar.zst with one byte of its third frame flipped: the reader reports the damage (frame and compressed offset) and exits 2.',
               'madeBy': f'tools/compressed-vectors.py (byte {at} xor 0x55)', 'exit': 2}, f, indent=2)
    f.write('\n')

# Bytes that are no zstd data after the last frame (spec §4.7): a reader without salvage fails.
junk = open(f'{V}/compressed/y_portarc-seekable.tar.zst', 'rb').read() + bytes([0x5a]) * 64
open(f'{V}/malformed/n_zstd-trailing-junk.tar.zst', 'wb').write(junk)
with open(f'{V}/malformed/n_zstd-trailing-junk.json', 'w') as f:
    json.dump({'description': 'compressed/y_portarc-seekable.tar.zst followed by 64 bytes of 0x5a, which are no zstd frame (zstd -d fails on the file): a reader without salvage fails there and exits 2 (one with salvage warns, spec §4.7).',
               'madeBy': 'tools/compressed-vectors.py (y_portarc-seekable.tar.zst + 64 x 0x5a)', 'exit': 2}, f, indent=2)
    f.write('\n')

# After the last gzip member (spec §4.7, §4.8): zeros are padding; any other byte is damage.
gz = open(f'{V}/compressed/y_gzip-ustar.tar.gz', 'rb').read()
open(f'{V}/compressed/y_gzip-trailing-zeros.tar.gz', 'wb').write(gz + bytes(1024))
expected_from('y_gnutar-ustar', 'y_gzip-trailing-zeros', 'compressed/y_gzip-ustar.tar.gz followed by 1024 zero bytes: padding after the last gzip member, which gzip -d ignores; the same entries, no warning.', 'tools/compressed-vectors.py (y_gzip-ustar.tar.gz + 1024 zeros)')
open(f'{V}/malformed/n_gzip-trailing-junk.tar.gz', 'wb').write(gz + bytes([0x5a]) * 64)
with open(f'{V}/malformed/n_gzip-trailing-junk.json', 'w') as f:
    json.dump({'description': 'compressed/y_gzip-ustar.tar.gz followed by 64 bytes of 0x5a, which start no gzip member (gzip -d: "trailing garbage ignored", exit 2, and GNU tar with it): the reader reads every entry and then fails there, naming the compressed bytes (spec §4.7).',
               'madeBy': 'tools/compressed-vectors.py (y_gzip-ustar.tar.gz + 64 x 0x5a)', 'exit': 2}, f, indent=2)
    f.write('\n')
