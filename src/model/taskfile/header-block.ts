/**
 * Splits a task file into its header lines and its SQL body (spec §1). The header block is
 * the leading run of `--` comment lines; a line whose comment starts with `@` is a header.
 * Unlike the original, an ordinary `-- comment` does not end the block, so a file may open
 * with a comment and still have headers below it. The block ends at the first line that is
 * not blank and not a `--` comment.
 */

export interface HeaderLine {
  key: string;
  value: string;
  /** 1-based line number. */
  line: number;
  /** 1-based columns of the key (after `@`) and of the value. */
  keyCol: number;
  valueCol: number;
}

export interface HeaderBlock {
  headers: HeaderLine[];
  body: string;
  bodyLine: number;
  bodyCol: number;
  /** `-- @key` lines found after the body started; they are SQL comments, but likely mistakes. */
  strayHeaders: HeaderLine[];
}

const HEADER = /^(\s*--\s*)@/;

export function splitHeaderBlock(text: string): HeaderBlock {
  const lines = text.split(/\r?\n/);
  const headers: HeaderLine[] = [];
  const strayHeaders: HeaderLine[] = [];
  let bodyIndex = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const h = parseHeaderLine(raw, i + 1);
    if (h) {
      headers.push(h);
      continue;
    }
    if (raw.trimStart().startsWith('--')) continue;
    bodyIndex = i;
    break;
  }
  for (let i = bodyIndex + 1; i < lines.length; i++) {
    const h = parseHeaderLine(lines[i]!, i + 1);
    if (h) strayHeaders.push(h);
  }
  const bodyLines = lines.slice(bodyIndex);
  const first = bodyLines[0] ?? '';
  const bodyCol = first.length - first.trimStart().length + 1;
  // Trailing whitespace is dropped; leading indentation of the first line is kept out of the
  // body but remembered, so that positions in the body map back to the file exactly.
  const body = bodyLines.join('\n').trimStart().trimEnd();
  return { headers, body, bodyLine: bodyIndex + 1, bodyCol, strayHeaders };
}

function parseHeaderLine(raw: string, line: number): HeaderLine | undefined {
  const m = HEADER.exec(raw);
  if (!m) return undefined;
  const keyStart = m[0].length;
  const keyMatch = /[^\s=:]*/y;
  keyMatch.lastIndex = keyStart;
  const key = keyMatch.exec(raw)![0];
  let v = keyStart + key.length;
  while (v < raw.length && (raw[v] === ' ' || raw[v] === '\t' || raw[v] === '=' || raw[v] === ':')) v++;
  return {
    key,
    value: raw.slice(v).trimEnd(),
    line,
    keyCol: keyStart + 1,
    valueCol: v + 1,
  };
}
