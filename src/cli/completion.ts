// `portarc completion bash|zsh|fish`: a completion script made from the commander definitions, so
// it knows every command, alias and option the installed portarc has.

import type { Command, Option } from 'commander';
import { UsageError } from '../model/errors.js';
import { visibleCommands } from './man.js';

interface Spec {
  name: string;
  names: string[];
  options: { short?: string; long?: string; takesValue: boolean; description: string; choices?: string[] }[];
}

function specs(program: Command): Spec[] {
  return visibleCommands(program).map((c) => ({
    name: c.name(),
    names: [c.name(), ...c.aliases()],
    options: c.options.filter((o) => !o.hidden).map((o: Option) => ({ short: o.short, long: o.long, takesValue: o.required || o.optional, description: o.description, choices: o.argChoices })),
  }));
}

const single = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(program: Command): string {
  const cmds = specs(program);
  const lines = [
    '# bash completion for portarc (portarc completion bash)',
    '_portarc() {',
    '  local cur prev cmd',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  cmd="${COMP_WORDS[1]}"',
    '  if [ "$COMP_CWORD" -eq 1 ]; then',
    `    COMPREPLY=( $(compgen -W ${single(cmds.flatMap((c) => c.names).join(' ') + ' --help --version')} -- "$cur") )`,
    '    return',
    '  fi',
    '  case "$cmd" in',
  ];
  for (const c of cmds) {
    const flags = c.options.flatMap((o) => [o.short, o.long].filter(Boolean)).join(' ');
    const valued = c.options.filter((o) => o.takesValue).flatMap((o) => [o.short, o.long].filter(Boolean));
    lines.push(`    ${c.names.join('|')})`);
    if (valued.length) lines.push(`      case "$prev" in ${valued.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;; esac`);
    lines.push(`      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W ${single(flags + ' --help')} -- "$cur") ); else COMPREPLY=( $(compgen -f -- "$cur") ); fi`, '      ;;');
  }
  lines.push('  esac', '}', 'complete -o filenames -F _portarc portarc', '');
  return lines.join('\n');
}

function zsh(program: Command): string {
  const cmds = specs(program);
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, `'\\''`).replace(/\[/g, '\\[').replace(/\]/g, '\\]').replace(/:/g, '\\:');
  const lines = [
    '#compdef portarc',
    '# zsh completion for portarc (portarc completion zsh)',
    '_portarc() {',
    '  local -a commands',
    '  commands=(',
    ...cmds.flatMap((c) => c.names.map((n) => `    '${n}:${esc(descriptionOf(program, c.name))}'`)),
    '  )',
    '  if (( CURRENT == 2 )); then',
    "    _describe 'command' commands",
    '    return',
    '  fi',
    '  case "${words[2]}" in',
  ];
  for (const c of cmds) {
    lines.push(`    ${c.names.join('|')})`, '      _arguments -s \\');
    for (const o of c.options) {
      const names = [o.short, o.long].filter(Boolean) as string[];
      const spec = names.length > 1 ? `'(${names.join(' ')})'{${names.join(',')}}'` : `'${names[0]}`;
      lines.push(`        ${spec}[${esc(o.description)}]${o.takesValue ? ':value:_files' : ''}' \\`);
    }
    lines.push("        '*:file:_files'", '      ;;');
  }
  lines.push('  esac', '}', '_portarc "$@"', '');
  return lines.join('\n');
}

function descriptionOf(program: Command, name: string): string {
  return program.commands.find((c) => c.name() === name)?.description().split('\n')[0] ?? '';
}

function fish(program: Command): string {
  const cmds = specs(program);
  const all = cmds.flatMap((c) => c.names).join(' ');
  const lines = ['# fish completion for portarc (portarc completion fish)', 'complete -c portarc -f'];
  for (const c of cmds) lines.push(`complete -c portarc -n "not __fish_seen_subcommand_from ${all}" -a ${single(c.name)} -d ${single(descriptionOf(program, c.name))}`);
  for (const c of cmds) {
    for (const o of c.options) {
      const parts = [`complete -c portarc -n "__fish_seen_subcommand_from ${c.names.join(' ')}"`];
      if (o.short) parts.push(`-s ${o.short.slice(1)}`);
      if (o.long) parts.push(`-l ${o.long.slice(2)}`);
      if (o.takesValue) parts.push('-r -F');
      parts.push(`-d ${single(o.description)}`);
      lines.push(parts.join(' '));
    }
    lines.push(`complete -c portarc -n "__fish_seen_subcommand_from ${c.names.join(' ')}" -F`);
  }
  return lines.join('\n') + '\n';
}

export function completionScript(program: Command, shell: string): string {
  if (shell === 'bash') return bash(program);
  if (shell === 'zsh') return zsh(program);
  if (shell === 'fish') return fish(program);
  throw new UsageError(`no completion for shell "${shell}": use bash, zsh or fish`);
}
