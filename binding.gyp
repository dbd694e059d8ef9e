# The native half of src/fs/sys.ts: xattrs without following symlinks, ns timestamps, mknod,
# and the batched restore of small files (native/restore.c). portarc_hash: the manifest's SHA-256
# batches (native/sha256_ops.c) and the lines of packed runs (native/run_lines.c), apart so that a runtime without OpenSSL's SHA256_* exports loses
# only that.
# Built by scripts/build-native.mjs (the package's install script); optional, see that file.
{
  "targets": [
    {
      "target_name": "portarc_sys",
      "sources": ["native/portarc_sys.c", "native/restore.c", "native/scan.c", "native/pack.c", "native/gf16.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "WARNING_CFLAGS": ["-Wall", "-Wextra", "-Wno-unused-parameter"] }
    },
    {
      "target_name": "portarc_hash",
      "sources": ["native/sha256_ops.c", "native/run_lines.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "WARNING_CFLAGS": ["-Wall", "-Wextra", "-Wno-unused-parameter"] }
    }
  ]
}
