/**
 * Canonical dataset names. DuckDB resolves identifiers case-insensitively, even quoted ones,
 * so names are compared in lower case; `main.x` is the same table as `x`. Files read or
 * written by a task (`read_parquet('data/x.parquet')`, `COPY … TO 'out.csv'`) are datasets
 * too, written `file:<path>` so that they can never be mistaken for a table.
 */

export const FILE_PREFIX = 'file:';

const SIMPLE_IDENT = /^[a-z_][a-z0-9_$]*$/;

/** Joins identifier parts into the canonical dotted name. */
export function canonicalTableName(parts: readonly string[]): string {
  const lower = parts.filter((p) => p !== '').map((p) => p.toLowerCase());
  // `main` is DuckDB's default schema: `main.x` and `x` name the same table.
  if (lower.length === 2 && lower[0] === 'main') lower.shift();
  return lower.map((p) => (SIMPLE_IDENT.test(p) ? p : `"${p.replace(/"/g, '""')}"`)).join('.');
}

export function canonicalFileName(path: string): string {
  let p = path.trim().replace(/\\/g, '/');
  while (p.startsWith('./')) p = p.slice(2);
  // Collapse repeated slashes, but keep the `//` of a URL scheme (s3://, https://).
  p = p.replace(/(?<!:)\/{2,}/g, '/');
  return `${FILE_PREFIX}${p}`;
}

export function isFileDataset(name: string): boolean {
  return name.startsWith(FILE_PREFIX);
}

/**
 * Parses a dataset name as a user writes it in `@inputs`, `@outputs` or on the command line:
 * `analytics.users`, `"Odd Name".t`, `file:data/users.csv` or `'data/users.csv'`.
 * Returns `undefined` when it is not a valid name.
 */
export function parseDatasetName(text: string): string | undefined {
  const src = text.trim();
  if (src === '') return undefined;
  if (src.startsWith(FILE_PREFIX)) return src.length > FILE_PREFIX.length ? canonicalFileName(src.slice(FILE_PREFIX.length)) : undefined;
  if (src.startsWith("'") && src.endsWith("'") && src.length > 2) return canonicalFileName(src.slice(1, -1));
  const parts: string[] = [];
  let i = 0;
  while (i < src.length) {
    if (src[i] === '"') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= src.length) return undefined;
        if (src[j] === '"') {
          if (src[j + 1] === '"') {
            part += '"';
            j += 2;
            continue;
          }
          break;
        }
        part += src[j];
        j++;
      }
      if (part === '') return undefined;
      parts.push(part);
      i = j + 1;
    } else {
      const m = /[A-Za-z_][A-Za-z0-9_$]*/y;
      m.lastIndex = i;
      const word = m.exec(src);
      if (!word) return undefined;
      parts.push(word[0]);
      i += word[0].length;
    }
    if (i < src.length) {
      if (src[i] !== '.') return undefined;
      i++;
      if (i === src.length) return undefined;
    }
  }
  if (parts.length > 3) return undefined;
  return canonicalTableName(parts);
}

/** The schema part of a canonical table name (`analytics` for `analytics.users`), quoted as in the name. */
export function schemaOf(name: string): string | undefined {
  if (isFileDataset(name)) return undefined;
  const parts = splitCanonical(name);
  return parts.length === 2 ? parts[0] : undefined;
}

/** Splits a canonical name at the dots that are not inside quotes, keeping each part's quotes. */
function splitCanonical(name: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of name) {
    if (c === '"') quoted = !quoted;
    if (c === '.' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}
