/**
 * DuckDB's simplified `PIVOT src ON col USING agg` reads its pivot values from the data: DuckDB
 * plans it as several statements, and `json_serialize_sql` refuses it wherever it appears (a
 * statement of its own, the body of CREATE TABLE … AS or INSERT, a subquery, after WITH). With
 * explicit values (`ON col IN ('a', 'b')`) it is a plain query that serialises. Reads do not
 * depend on the values, so for analysis only, every ON column without a list gets `IN (NULL)`,
 * and a list given by a subquery (`ON col IN (SELECT …)`, which DuckDB also runs first) is
 * replaced by `IN (NULL)` while the subquery moves into the USING list as `first((SELECT …))`,
 * where the parser accepts it and its reads are still found, with the same CTEs in scope.
 * UNPIVOT needs no values and serialises as written.
 */
import { closingParen, tokenize, type Token } from './tokenizer.js';

const PIVOT = new Set(['PIVOT', 'PIVOT_WIDER']);
/** Words that end the ON list of a simplified PIVOT. */
const ON_END = new Set(['USING', 'GROUP', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'EXCEPT', 'INTERSECT']);
const SUBQUERY_START = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', '(']);

interface Edit {
  at: number;
  end: number;
  text: string;
}

/** The standard `FROM t PIVOT (agg FOR col IN (…))` form: a group holding `FOR` right after the keyword. */
function isStandardPivot(tokens: Token[], k: number): boolean {
  const open = tokens[k + 1];
  if (open?.text !== '(' || open.kind !== 'punct') return false;
  const end = closingParen(tokens, k + 1);
  for (let j = k + 2; j < end; j++) if (tokens[j]!.depth === open.depth + 1 && tokens[j]!.upper === 'FOR') return true;
  return false;
}

/** Rewrites a query text so that every simplified PIVOT in it has explicit IN lists; unchanged when there is none. */
export function explicitPivots(text: string): string {
  if (!/pivot/i.test(text)) return text;
  let tokens: Token[];
  try {
    tokens = tokenize(text);
  } catch {
    return text;
  }
  const edits: Edit[] = [];
  /** Text ranges replaced whole (moved subqueries): edits inside them are dropped; the moved text is rewritten on its own. */
  const replaced: Edit[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind !== 'word' || !PIVOT.has(t.upper) || isStandardPivot(tokens, k)) continue;
    const depth = t.depth;
    // The source is a table reference, possibly with joins whose ON/USING are not the PIVOT's.
    let joins = 0;
    let on = -1;
    for (let j = k + 1; j < tokens.length; j++) {
      const u = tokens[j]!;
      if (u.depth < depth) break;
      if (u.depth > depth || u.kind !== 'word') continue;
      if (u.upper === 'JOIN' && !['CROSS', 'NATURAL', 'POSITIONAL'].includes(tokens[j - 1]?.upper ?? '')) joins++;
      else if ((u.upper === 'ON' || u.upper === 'USING') && joins > 0) joins--;
      else if (u.upper === 'ON') {
        on = j;
        break;
      } else if (ON_END.has(u.upper)) break;
    }
    if (on < 0) continue;
    // The ON list: elements separated by commas at the PIVOT's depth.
    const moved: string[] = [];
    let start = on + 1;
    let j = on + 1;
    for (; ; j++) {
      const u = tokens[j];
      const end = !u || isEnd(u, depth);
      if (end || (u.depth === depth && u.kind === 'punct' && u.text === ',')) {
        if (j > start) {
          const element = explicitElement(tokens, start, j, depth, text);
          edits.push(...element.edits);
          if (element.moved !== undefined) {
            moved.push(element.moved);
            replaced.push(...element.edits);
          }
        }
        if (end) break;
        start = j + 1;
      }
    }
    if (moved.length === 0) continue;
    const extra = moved.map((q) => `first((${q}))`).join(', ');
    if (tokens[j]?.depth === depth && tokens[j]!.upper === 'USING') {
      let e = j + 1;
      while (e < tokens.length && !(isEnd(tokens[e]!, depth) && tokens[e]!.upper !== 'USING')) e++;
      edits.push({ at: tokens[e - 1]!.end, end: tokens[e - 1]!.end, text: `, ${extra}` });
    } else {
      edits.push({ at: tokens[j - 1]!.end, end: tokens[j - 1]!.end, text: ` USING ${extra}` });
    }
  }
  const inside = (e: Edit, r: Edit) => e.at >= r.at && e.end <= r.end && !(e.at === e.end && (e.at === r.at || e.at === r.end));
  const kept = edits.filter((e) => replaced.includes(e) || !replaced.some((r) => inside(e, r)));
  kept.sort((a, b) => b.at - a.at || b.end - a.end);
  let out = text;
  for (const e of kept) out = out.slice(0, e.at) + e.text + out.slice(e.end);
  return out;
}

/** The end of a PIVOT's ON list (or of its USING list): a closing parenthesis or a clause word at its depth. */
function isEnd(u: Token, depth: number): boolean {
  return u.depth < depth || (u.depth === depth && u.kind === 'word' && ON_END.has(u.upper));
}

/**
 * Edits that give one ON element `[from, to)` an explicit `IN (…)` list; `moved` is the
 * subquery (itself rewritten) that gave the list, if any.
 */
function explicitElement(tokens: Token[], from: number, to: number, depth: number, text: string): { edits: Edit[]; moved?: string } {
  const last = tokens[to - 1]!;
  let inAt = -1;
  for (let j = from; j < to; j++) if (tokens[j]!.depth === depth && tokens[j]!.kind === 'word' && tokens[j]!.upper === 'IN') inAt = j;
  if (inAt < 0) return { edits: [{ at: last.end, end: last.end, text: ' IN (NULL)' }] };
  const open = tokens[inAt + 1];
  const inner = tokens[inAt + 2];
  if (open?.text !== '(' || !inner || !SUBQUERY_START.has(inner.upper)) return { edits: [] };
  const close = tokens[closingParen(tokens, inAt + 1)];
  if (!close) return { edits: [] };
  return {
    edits: [{ at: open.start, end: close.end, text: '(NULL)' }],
    moved: explicitPivots(text.slice(inner.start, close.start).trimEnd()),
  };
}
