// The JSON Schema subset docs/cli-json.md uses (type, properties, required, additionalProperties,
// items, enum, $ref to #/definitions/NAME), and the schemas read from that document itself, so the
// test checks the documentation, not a copy of it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Schema = Record<string, unknown>;

export const CLI_JSON_DOC = fileURLToPath(new URL('../../docs/cli-json.md', import.meta.url));

/** `### NAME` followed by a ```json block: NAME → schema. */
export function documentedSchemas(path = CLI_JSON_DOC): Record<string, Schema> {
  const text = readFileSync(path, 'utf8');
  const out: Record<string, Schema> = {};
  for (const m of text.matchAll(/^### (\S+)\n[^]*?```json\n([^]*?)\n```/gm)) out[m[1]!] = JSON.parse(m[2]!) as Schema;
  return out;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Every place `value` breaks `schema`, as "at PATH: what" lines (none: it conforms). */
export function validate(value: unknown, schema: Schema, defs: Record<string, Schema>, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const name = /^#\/definitions\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name && defs[name];
    if (!target) return [`at ${at}: unknown $ref ${schema.$ref}`];
    return validate(value, target, defs, at);
  }
  const errors: string[] = [];
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [`at ${at}: ${t}, expected ${types.join(' or ')}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`at ${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const k of (schema.required ?? []) as string[]) if (!(k in obj)) errors.push(`at ${at}: missing "${k}"`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...validate(v, props[k]!, defs, `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`at ${at}: "${k}" is not documented`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(v, schema.additionalProperties as Schema, defs, `${at}.${k}`));
    }
  }
  if (t === 'array' && schema.items) (value as unknown[]).forEach((v, i) => errors.push(...validate(v, schema.items as Schema, defs, `${at}[${i}]`)));
  return errors;
}
