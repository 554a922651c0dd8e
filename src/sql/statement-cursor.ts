/**
 * A cursor over one statement's tokens, for `statement-plan.ts`: names, balanced groups,
 * top-level keywords, the text between two tokens, and the subqueries in a range.
 */
import { closingParen, identText, type Token } from './tokenizer.js';

/** Words that open a parenthesised query (as opposed to a column list or an expression). */
export const SUBQUERY_START = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', 'PIVOT', 'UNPIVOT']);

export class Cursor {
  i = 0;
  constructor(
    readonly tokens: Token[],
    readonly text: string,
  ) {}

  get done(): boolean {
    return this.i >= this.tokens.length;
  }
  peek(k = 0): Token | undefined {
    return this.tokens[this.i + k];
  }
  is(word: string, k = 0): boolean {
    const t = this.peek(k);
    return t !== undefined && (t.kind === 'word' || t.kind === 'punct') && t.upper === word;
  }
  accept(...words: string[]): boolean {
    if (words.every((w, k) => this.is(w, k))) {
      this.i += words.length;
      return true;
    }
    return false;
  }
  /** A possibly qualified name: ident(.ident)*. */
  name(): string[] | undefined {
    const parts: string[] = [];
    for (;;) {
      const t = this.peek();
      if (!t || (t.kind !== 'word' && t.kind !== 'qident')) return parts.length ? parts : undefined;
      parts.push(identText(t));
      this.i++;
      if (!(this.peek()?.text === '.' && this.peek()?.kind === 'punct')) return parts;
      this.i++;
    }
  }
  /** Skips a balanced parenthesised group starting at the cursor. */
  skipGroup(): void {
    if (this.peek()?.text !== '(') return;
    this.i = closingParen(this.tokens, this.i) + 1;
  }
  /** Index of the first token at or after `from` at the statement's top level matching one of `words`. */
  findTop(words: string[], from = this.i, depth = this.tokens[0]?.depth ?? 0): number {
    for (let k = from; k < this.tokens.length; k++) {
      const t = this.tokens[k]!;
      if (t.depth === depth && t.kind === 'word' && words.includes(t.upper)) return k;
    }
    return this.tokens.length;
  }
  slice(from: number, to: number): string {
    if (from >= to || from >= this.tokens.length) return '';
    return this.text.slice(this.tokens[from]!.start, this.tokens[Math.min(to, this.tokens.length) - 1]!.end);
  }
}

/** Texts of every parenthesised subquery in a token range, for when a clause cannot be re-assembled. */
export function subqueries(c: Cursor, from: number, to: number): string[] {
  const out: string[] = [];
  for (let k = from; k < to; k++) {
    const t = c.tokens[k]!;
    const next = c.tokens[k + 1];
    if (t.text === '(' && t.kind === 'punct' && next && next.kind === 'word' && SUBQUERY_START.has(next.upper)) {
      const end = Math.min(closingParen(c.tokens, k), to);
      out.push(c.slice(k + 1, end));
      k = end;
    }
  }
  return out;
}
