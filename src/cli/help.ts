// The text `--help` shows after each command's options, and the man page's EXAMPLES and EXIT
// STATUS sections: one source for both (src/cli/man.ts). Spec: spec/portarc-1.md §8.

export const EXIT_CODES: [code: string, meaning: string][] = [
  ['0', 'success: everything was done exactly'],
  ['1', 'done, with warnings or losses (metadata the system could not restore, a file that changed while it was read...)'],
  ['2', 'failure: an error, a damaged archive, a member that was not extracted, or metadata create could not archive; the message names the archive, entry and offset'],
  ['130, 143, 129', 'interrupted by SIGINT, SIGTERM or SIGHUP: stopped and cleaned up as on a failure (nothing half-written left under a final name)'],
];

export const EXAMPLES: Record<string, [command: string, what: string][]> = {
  portarc: [
    ['portarc create -f home.tar.zst -C / home', 'back up'],
    ['portarc extract -f home.tar.zst -C /restore', 'restore'],
    ['portarc -tvf home.tar.zst', 'list, tar-style'],
    ['portarc create --help', 'the options of one command'],
  ],
  create: [
    ['portarc create -f home.tar.zst -C / home', 'archive /home, zstd-compressed (by the name)'],
    ['portarc c -f src.tar --exclude "*.o" --exclude .git src', 'leave out object files and .git directories'],
    ['find . -newer stamp -print0 | portarc create -f new.tar --null --no-recursion -T -', 'archive the names find prints, each once (a directory without what it holds)'],
    ['portarc create -f etc.zip --json /etc', 'a zip, with a JSON summary on stdout'],
  ],
  extract: [
    ['portarc extract -f home.tar.zst -C /restore', 'restore everything under /restore'],
    ['portarc x -f src.tar src/lib --strip-components 1', 'only src/lib, as lib/'],
    ['portarc extract -f src.tar --wildcards "*.c" -k', 'only C files; existing files are an error'],
    ['portarc extract -f etc.tar -O etc/hosts', 'print one file on stdout'],
  ],
  list: [
    ['portarc list -f home.tar.zst', 'member names'],
    ['portarc t -vf home.tar.zst home/alice', 'long listing of one directory'],
    ['portarc list -f a.tar --json | jq ".entries[].path"', 'every entry as JSON'],
  ],
  verify: [
    ['portarc verify -f home.tar.zst', 'check the archive against its manifest'],
    ['portarc verify -f home.tar.zst --json', 'the report as JSON'],
  ],
  convert: [
    ['portarc convert home.tar home.zip', 'tar to zip'],
    ['portarc convert home.tar.gz home.tar.zst --json', 'gzip to zstd, with a JSON summary'],
  ],
  info: [
    ['portarc info -f home.tar.zst', 'container, spec version, features, counts'],
    ['portarc info -f home.zip --json', 'the same as JSON'],
  ],
  repair: [['portarc repair -f home.tar.zst -o fixed.tar.zst', 'rebuild from home.tar.zst.par2 and its volumes']],
  completion: [
    ['portarc completion bash > /etc/bash_completion.d/portarc', 'bash'],
    ['portarc completion zsh > "${fpath[1]}/_portarc"', 'zsh'],
    ['portarc completion fish > ~/.config/fish/completions/portarc.fish', 'fish'],
  ],
};

/** The block `--help` prints after a command's options. */
export function helpAfter(command: string): string {
  const ex = EXAMPLES[command] ?? [];
  const lines: string[] = [];
  if (ex.length) {
    lines.push('', 'Examples:');
    for (const [cmd, what] of ex) lines.push(`  $ ${cmd}`, `      ${what}`);
  }
  lines.push('', 'Exit status:');
  for (const [code, what] of EXIT_CODES) lines.push(`  ${code}  ${what}`);
  return lines.join('\n');
}
