/**
 * Where a task body names a dataset it reads, for errors about the graph (the edges of a
 * cycle). Found again from the body when such an error needs it, rather than stored with every
 * definition: definitions (and their hashes) stay as they are, also those registered before.
 *
 * The first name written at least as qualified as the dataset wins (`analytics.orders`,
 * `db.analytics.orders`, `main.orders` for `orders`), compared as DuckDB compares names; else
 * the first unqualified one (`orders` after `USE analytics`); else a string naming it
 * (`query_table('orders')`). A file is found by the string that names it (`read_csv('x.csv')`).
 */
import { canonicalFileName, datasetKey, identifierParts, isFileDataset, parseDatasetName } from '../model/names.js';
import { identText, SqlLexError, tokenize, type Token } from './tokenizer.js';

/** The 0-based offset in `body` where it first names `dataset` as a read, or undefined. */
export function readOffset(body: string, dataset: string): number | undefined {
  let tokens: Token[];
  try {
    tokens = tokenize(body);
  } catch (err) {
    if (err instanceof SqlLexError) return undefined;
    throw err;
  }
  const key = datasetKey(dataset);
  const strings = tokens.filter((t) => t.kind === 'string');
  if (isFileDataset(dataset)) return strings.find((t) => canonicalFileName(stringText(t)) === dataset)?.start;
  const want = identifierParts(dataset).map((p) => p.toLowerCase());
  let unqualified: number | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const first = tokens[i]!;
    if (!isName(first) || isDot(tokens[i - 1])) continue;
    const parts = [identText(first).toLowerCase()];
    let j = i + 1;
    while (isDot(tokens[j]) && isName(tokens[j + 1])) {
      parts.push(identText(tokens[j + 1]!).toLowerCase());
      j += 2;
    }
    // A function of that name, not a table.
    if (tokens[j]?.kind === 'punct' && tokens[j]!.text === '(') continue;
    if (qualifiedAsWritten(parts, want)) return first.start;
    if (unqualified === undefined && parts.length === 1 && parts[0] === want.at(-1)) unqualified = first.start;
  }
  return unqualified ?? strings.find((t) => datasetKey(parseDatasetName(stringText(t)) ?? '') === key)?.start;
}

/** `parts` names the table `want` with at least its qualification (a catalog in front, `main.` for a table of `main`). */
function qualifiedAsWritten(parts: readonly string[], want: readonly string[]): boolean {
  const tail = parts.slice(parts.length - want.length);
  if (parts.length < want.length || tail.some((p, k) => p !== want[k])) return false;
  const extra = parts.length - want.length;
  if (extra === 0) return true;
  if (want.length === 2) return extra === 1;
  return want.length === 1 && extra <= 2 && parts.at(-2) === 'main';
}

function isName(t: Token | undefined): boolean {
  return t !== undefined && (t.kind === 'word' || t.kind === 'qident');
}

function isDot(t: Token | undefined): boolean {
  return t !== undefined && t.kind === 'punct' && t.text === '.';
}

/** The text of a `'…'` literal (other quoting is left as written). */
function stringText(t: Token): string {
  return t.text.startsWith("'") ? t.text.slice(1, -1).replace(/''/g, "'") : t.text;
}
