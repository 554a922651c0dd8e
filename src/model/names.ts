/**
 * Canonical dataset names. A name keeps the case the user wrote (`"Sales Data".Orders`), as
 * DuckDB does when it creates the schema or table; but DuckDB resolves identifiers
 * case-insensitively, even quoted ones, so two names are the same dataset when their
 * `datasetKey`s are equal. `main.x` is the same table as `x`. Files read or written by a task
 * (`read_parquet('data/x.parquet')`, `COPY … TO 'out.csv'`) are datasets too, written
 * `file:<path>` so that they can never be mistaken for a table; file paths are case-sensitive.
 */

export const FILE_PREFIX = 'file:';

const SIMPLE_IDENT = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** Joins identifier parts into the canonical dotted name, keeping their case. */
export function canonicalTableName(parts: readonly string[]): string {
  const kept = parts.filter((p) => p !== '');
  // `main` is DuckDB's default schema: `main.x` and `x` name the same table.
  if (kept.length === 2 && kept[0]!.toLowerCase() === 'main') kept.shift();
  return kept.map((p) => (SIMPLE_IDENT.test(p) ? p : quoteIdentifier(p))).join('.');
}

/** `"name"`, with inner quotes doubled: an identifier that keeps its case and spaces in SQL. */
export function quoteIdentifier(part: string): string {
  return `"${part.replace(/"/g, '""')}"`;
}

/** What two spellings of one dataset share: tables compare case-insensitively, files exactly. */
export function datasetKey(name: string): string {
  return isFileDataset(name) ? name : name.toLowerCase();
}

/**
 * Datasets by key, remembering the first spelling seen: what a task reads, writes or keeps in
 * temporary tables, compared as DuckDB compares names.
 */
export class DatasetSet implements Iterable<string> {
  private readonly byKey = new Map<string, string>();

  constructor(names: Iterable<string> = []) {
    for (const n of names) this.add(n);
  }

  add(name: string): this {
    const key = datasetKey(name);
    if (!this.byKey.has(key)) this.byKey.set(key, name);
    return this;
  }

  has(name: string): boolean {
    return this.byKey.has(datasetKey(name));
  }

  get size(): number {
    return this.byKey.size;
  }

  [Symbol.iterator](): Iterator<string> {
    return this.byKey.values();
  }
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

/** A file dataset named by a glob (`file:out/*.parquet`): it stands for the files it matches. */
export function isFileGlob(name: string): boolean {
  return isFileDataset(name) && /[*?[]/.test(name);
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

/** The schema of a canonical `schema.table` name, unquoted and in the case it was written (`Sales Data`). */
export function schemaOf(name: string): string | undefined {
  if (isFileDataset(name)) return undefined;
  const parts = identifierParts(name);
  return parts.length === 2 ? parts[0] : undefined;
}

/** The identifier parts of a canonical table name, unquoted: `"a.b".C` → `['a.b', 'C']`. */
export function identifierParts(name: string): string[] {
  if (!name.includes('"')) return name.split('.');
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === '"') {
      if (quoted && name[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === '.' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** Orders text by code unit: deterministic everywhere and far cheaper than `localeCompare` on large graphs. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The key a user's spelling of an asset or table compares by (`main.t` is `t`), or the text lowered when it is no dataset name. */
export function lookupKey(text: string): string {
  const parsed = parseDatasetName(text);
  return parsed === undefined ? text.trim().toLowerCase() : datasetKey(parsed);
}
