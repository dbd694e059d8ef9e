// The library's create path without its packed members (PORTARC_NO_PACK=1, src/fs/scan.ts): the
// archive the JS writer makes, to compare the packed path's bytes with.
export async function withoutPacking<T>(work: () => Promise<T>): Promise<T> {
  process.env.PORTARC_NO_PACK = '1';
  try {
    return await work();
  } finally {
    delete process.env.PORTARC_NO_PACK;
  }
}
