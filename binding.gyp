# The native half of src/fs/sys.ts: xattrs without following symlinks, ns timestamps, mknod,
# and the batched restore of small files (native/restore.c).
# Built by scripts/build-native.mjs (the package's install script); optional, see that file.
{
  "targets": [
    {
      "target_name": "portarc_sys",
      "sources": ["native/portarc_sys.c", "native/restore.c", "native/scan.c", "native/gf16.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "WARNING_CFLAGS": ["-Wall", "-Wextra", "-Wno-unused-parameter"] }
    }
  ]
}
