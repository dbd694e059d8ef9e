// The native addons (native/*.c, built by scripts/build-native.mjs into build/Release), each one
// optional: without it (not built, Windows, PORTARC_NO_NATIVE=1) its callers do the same work in
// JavaScript or through programs. One place decides where they are and whether they are wanted.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** portarc_sys: xattrs, times, devices, the scan and restore batches, the GF(2^16) kernel; portarc_hash: SHA-256 batches. */
export type AddonName = 'portarc_sys' | 'portarc_hash';

/** Native code is used unless PORTARC_NO_NATIVE=1 (the tests run both ways). */
export function nativeWanted(): boolean {
  return process.env.PORTARC_NO_NATIVE !== '1';
}

/** Where the addon is built: from src/model (vitest) and dist/model (tsc) alike, two levels below the root. */
export function addonPath(name: AddonName): string {
  return fileURLToPath(new URL(`../../build/Release/${name}.node`, import.meta.url));
}

const loaded = new Map<AddonName, unknown>();

/** The addon, loaded at first use; null when it is not wanted or cannot be loaded. */
export function loadAddon<T>(name: AddonName): T | null {
  if (!nativeWanted()) return null;
  if (!loaded.has(name)) {
    let addon: unknown = null;
    try {
      addon = createRequire(import.meta.url)(addonPath(name));
    } catch {
      addon = null;
    }
    loaded.set(name, addon);
  }
  return loaded.get(name) as T | null;
}
