/**
 * Values of `{{ var }}` placeholders as SQL literals (spec §4). Where a placeholder stands
 * decides how its value is inserted: see `sql/template.ts`.
 */
/** A plain decimal number, as SQL writes it (not `0x10`, `Infinity` or ` 1 `). */
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** A number goes in as is; anything else as a single-quoted string. */
export function sqlLiteral(value: string): string {
  if (DECIMAL.test(value)) return value;
  return `'${value.replace(/'/g, "''")}'`;
}
