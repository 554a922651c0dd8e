/**
 * Legacy `{{ var }}` substitution (spec §4): `{{ last_processed_at }}`, `{{ now }}` and
 * `{{ run_id }}`. A value that already starts with `'` or is a number is inserted as is;
 * anything else becomes a single-quoted SQL literal. Unknown keys are left untouched so that
 * DuckDB reports them where they stand.
 */
/** A plain decimal number, as SQL writes it (not `0x10`, `Infinity` or ` 1 `). */
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

const PLACEHOLDER = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g;

export function sqlLiteral(value: string): string {
  if (value.startsWith("'") || DECIMAL.test(value)) return value;
  return `'${value.replace(/'/g, "''")}'`;
}

export function substituteVariables(sql: string, vars: Readonly<Record<string, string>>): string {
  return sql.replace(PLACEHOLDER, (whole, key: string) => (Object.hasOwn(vars, key) ? sqlLiteral(vars[key]!) : whole));
}

export const DEFAULT_WATERMARK = '1970-01-01 00:00:00';
