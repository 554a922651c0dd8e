import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ATOMS, firstIntervalUnit, formatCondition, parseCondition, type Condition } from '../../../src/model/automation/condition.js';

function parse(text: string): Condition {
  const r = parseCondition(text);
  if (!r.ok) throw new Error(`${r.error.message} at ${r.error.offset}`);
  return r.condition;
}

const canon = (text: string) => formatCondition(parse(text));

const a = (name: string): Condition => ({ kind: 'atom', name }) as Condition;
const and = (left: Condition, right: Condition): Condition => ({ kind: 'and', left, right });
const or = (left: Condition, right: Condition): Condition => ({ kind: 'or', left, right });
const not = (operand: Condition): Condition => ({ kind: 'not', operand });

const E = a('eager');
const M = a('on_missing');
const P = a('in_progress');
const F = a('freshness_violated');

describe('parseCondition: precedence and associativity', () => {
  it.each<[string, Condition]>([
    ['eager', E],
    ['eager()', E],
    ['eager OR on_missing AND in_progress', or(E, and(M, P))],
    ['eager AND on_missing OR in_progress', or(and(E, M), P)],
    ['NOT eager AND on_missing', and(not(E), M)],
    ['NOT eager OR on_missing', or(not(E), M)],
    ['NOT (eager OR on_missing)', not(or(E, M))],
    ['eager OR on_missing OR in_progress', or(or(E, M), P)],
    ['eager AND on_missing AND in_progress', and(and(E, M), P)],
    ['eager AND (on_missing AND in_progress)', and(E, and(M, P))],
    ['(eager OR on_missing) AND in_progress', and(or(E, M), P)],
    ['NOT NOT eager', not(not(E))],
    ['!!eager', not(not(E))],
    ['eager AND NOT on_missing OR NOT in_progress AND freshness_violated', or(and(E, not(M)), and(not(P), F))],
    ['((eager))', E],
  ])('%s', (text, ast) => {
    expect(parse(text)).toEqual(ast);
  });

  it.each([
    ['eager & on_missing', 'eager && on_missing', 'eager and on_missing', 'EAGER AnD On_Missing()'],
    ['eager | on_missing', 'eager || on_missing', 'eager or on_missing', 'eager() OR on_missing'],
    ['!eager', 'not eager', 'NOT eager()', 'Not   eager'],
  ])('symbolic and keyword operators are equivalent: %s', (...forms) => {
    const asts = forms.map(parse);
    for (const ast of asts) expect(ast).toEqual(asts[0]);
  });

  it('needs no whitespace around symbolic operators', () => {
    expect(parse('eager&!on_missing|in_progress')).toEqual(or(and(E, not(M)), P));
    expect(parse('eager()&&on_missing()||!(in_progress())')).toEqual(or(and(E, M), not(P)));
  });

  it('parses every atom, case-insensitively', () => {
    for (const name of ATOMS) {
      const text = name === 'on_cron' ? 'ON_CRON("0 6 * * *")' : name === 'on_interval' ? 'On_Interval("DAILY")' : name.toUpperCase();
      expect(parse(text)).toMatchObject({ kind: 'atom', name });
    }
  });

  it('ignores the argument of an atom that takes none', () => {
    expect(parse('eager("whatever")')).toEqual(E);
    expect(parse("in_progress('x')")).toEqual(P);
  });

  it.each([
    ['on_cron("0 6 * * *")', '0 6 * * *'],
    ["on_cron('0 6 * * *')", '0 6 * * *'],
    ['on_cron("  0   6 *  * * ")', '0 6 * * *'],
    ['on_cron("0 0 6 * * *")', '0 0 6 * * *'],
    ['on_cron("@daily")', '@daily'],
    ['on_cron("*/15 * * * 1-5")', '*/15 * * * 1-5'],
  ])('on_cron normalises its expression: %s', (text, arg) => {
    expect(parse(text)).toEqual({ kind: 'atom', name: 'on_cron', arg });
  });

  it.each([
    ['daily', 'daily'],
    ['1d', 'daily'],
    ['hourly', 'hourly'],
    ['1h', 'hourly'],
    ['60m', 'hourly'],
    ['1440min', 'daily'],
    ['2h', '2h'],
    ['120 minutes', '2h'],
    ['48h', '2d'],
    ['3 days', '3d'],
    ['15min', '15min'],
    ['90m', '90min'],
  ])('on_interval canonicalises its unit: %s → %s', (unit, canonical) => {
    expect(parse(`on_interval("${unit}")`)).toEqual({ kind: 'atom', name: 'on_interval', arg: canonical });
  });
});

describe('parseCondition: errors and their offsets', () => {
  it.each<[string, string | RegExp, number]>([
    ['', 'empty expression', 0],
    ['   \t ', 'empty expression', 0],
    ['eager AND bogus', 'unknown atom `bogus` (expected eager|on_cron|on_interval|on_missing|freshness_violated|in_progress)', 10],
    ['Bogus()', 'unknown atom `Bogus` (expected eager|on_cron|on_interval|on_missing|freshness_violated|in_progress)', 0],
    ['eager # on_missing', 'unexpected `#`', 6],
    ['eager AND 1', 'unexpected `1`', 10],
    ['on_cron("0 6 * * *', 'unterminated string literal', 8],
    ["eager AND on_cron('x", 'unterminated string literal', 18],
    ['on_cron', '`on_cron` requires an argument, e.g. on_cron("0 6 * * *")', 0],
    ['eager OR on_cron()', '`on_cron` requires an argument, e.g. on_cron("0 6 * * *")', 9],
    ['on_cron("")', '`on_cron` requires an argument, e.g. on_cron("0 6 * * *")', 0],
    ['on_cron("   ")', '`on_cron` requires an argument, e.g. on_cron("0 6 * * *")', 0],
    ['on_interval()', '`on_interval` requires an argument, e.g. on_interval("daily")', 0],
    ['on_cron(daily)', 'argument of `on_cron` must be a quoted string, e.g. on_cron("…")', 8],
    ['eager(', 'argument of `eager` must be a quoted string, e.g. eager("…")', 6],
    ['on_cron("0 6 * * *" "x")', 'expected `)` after the argument of `on_cron`', 20],
    ['on_cron("0 6 * * *", "x")', 'expected `)` after the argument of `on_cron`', 19],
    ['eager AND on_cron("61 * * * *")', /^invalid cron expression "61 \* \* \* \*": /, 18],
    ['on_cron("not a cron")', /^invalid cron expression "not a cron"/, 8],
    ['on_interval("30s")', 'invalid interval unit `30s` (expected an interval unit such as daily, hourly, 2h, 3d or 15min)', 12],
    ['on_interval("0d")', /^invalid interval unit `0d`/, 12],
    ['on_interval("1.5h")', /^invalid interval unit `1.5h`/, 12],
    ['on_interval("weekly")', /^invalid interval unit `weekly`/, 12],
    ['eager eager', 'unexpected `eager` after a complete expression', 6],
    ['eager)', 'unexpected `)` after a complete expression', 5],
    ['eager, on_missing', 'unexpected `,` after a complete expression', 5],
    ['eager "x"', 'unexpected string "x" after a complete expression', 6],
    ['(eager', 'expected `)` but found end of expression', 6],
    ['(eager on_missing)', 'expected `)` but found `on_missing`', 7],
    ['()', 'expected an atom but found `)`', 1],
    ['AND eager', 'expected an atom but found AND', 0],
    ['eager OR OR on_missing', 'expected an atom but found OR', 9],
    ['eager AND', 'expression ends where an atom was expected', 9],
    ['NOT', 'expression ends where an atom was expected', 3],
    ['"eager"', 'expected an atom but found string "eager"', 0],
  ])('%j', (text, message, offset) => {
    const r = parseCondition(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    if (typeof message === 'string') expect(r.error.message).toBe(message);
    else expect(r.error.message).toMatch(message);
    expect(r.error.offset).toBe(offset);
  });
});

describe('formatCondition: canonical text', () => {
  it.each([
    ['eager AND NOT in_progress()', 'eager() AND NOT in_progress()'],
    ['eager', 'eager()'],
    ['!eager', 'NOT eager()'],
    ['NOT NOT eager', 'NOT NOT eager()'],
    ['not (eager and on_missing)', 'NOT (eager() AND on_missing())'],
    ['!(eager | on_missing)', 'NOT (eager() OR on_missing())'],
    ['(eager | on_missing) & in_progress', '(eager() OR on_missing()) AND in_progress()'],
    ['in_progress & (eager | on_missing)', 'in_progress() AND (eager() OR on_missing())'],
    ['eager | on_missing & in_progress', 'eager() OR on_missing() AND in_progress()'],
    ['(eager & on_missing) | in_progress', 'eager() AND on_missing() OR in_progress()'],
    ['eager | (on_missing | in_progress)', 'eager() OR on_missing() OR in_progress()'],
    ["on_cron('0 6 * * *') OR on_interval('1d')", 'on_cron("0 6 * * *") OR on_interval("daily")'],
    ['FRESHNESS_VIOLATED AND NOT On_Missing', 'freshness_violated() AND NOT on_missing()'],
  ])('%s → %s', (text, canonical) => {
    expect(canon(text)).toBe(canonical);
  });
});

describe('firstIntervalUnit', () => {
  it.each<[string, string | undefined]>([
    ['eager', undefined],
    ['on_interval("1h")', 'hourly'],
    ['eager AND on_interval("2h") AND on_interval("daily")', '2h'],
    ['on_interval("3d") OR on_interval("2h")', '3d'],
    ['NOT on_interval("15m")', '15min'],
    ['(eager OR (on_missing AND on_interval("90m")))', '90min'],
  ])('%s → %s', (text, unit) => {
    expect(firstIntervalUnit(parse(text))).toBe(unit);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const CRONS = ['0 6 * * *', '*/5 * * * *', '0 0 6 * * *', '@hourly', '30 2 * * 1-5'];
const UNITS = ['daily', 'hourly', '2h', '3d', '15min', '90min'];

const atomArb: fc.Arbitrary<Condition> = fc.oneof(
  fc.constantFrom<Condition>(E, M, P, F),
  fc.constantFrom(...CRONS).map((arg): Condition => ({ kind: 'atom', name: 'on_cron', arg })),
  fc.constantFrom(...UNITS).map((arg): Condition => ({ kind: 'atom', name: 'on_interval', arg })),
);

const conditionArb: fc.Arbitrary<Condition> = fc.letrec<{ c: Condition }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atomArb,
    tie('c').map((operand) => not(operand)),
    fc.tuple(tie('c'), tie('c')).map(([l, r]) => and(l, r)),
    fc.tuple(tie('c'), tie('c')).map(([l, r]) => or(l, r)),
  ),
})).c;

/** Truth value under an assignment of the atoms (keyed by their canonical text). */
function evaluate(c: Condition, env: (key: string) => boolean): boolean {
  switch (c.kind) {
    case 'atom':
      return env(formatCondition(c));
    case 'not':
      return !evaluate(c.operand, env);
    case 'and':
      return evaluate(c.left, env) && evaluate(c.right, env);
    case 'or':
      return evaluate(c.left, env) || evaluate(c.right, env);
  }
}

const ALL_ATOM_KEYS = [
  ...['eager', 'on_missing', 'in_progress', 'freshness_violated'].map((n) => `${n}()`),
  ...CRONS.map((c) => `on_cron("${c}")`),
  ...UNITS.map((u) => `on_interval("${u}")`),
];
const envArb = fc.array(fc.boolean(), { minLength: ALL_ATOM_KEYS.length, maxLength: ALL_ATOM_KEYS.length }).map((bits) => {
  const m = new Map(ALL_ATOM_KEYS.map((k, i) => [k, bits[i]!]));
  return (key: string) => {
    const v = m.get(key);
    if (v === undefined) throw new Error(`no value for ${key}`);
    return v;
  };
});

/** A fully parenthesised, randomly spelled rendering (independent of formatCondition's precedence logic). */
function noisy(c: Condition, pick: () => number): string {
  const choose = (xs: string[]) => xs[pick() % xs.length]!;
  switch (c.kind) {
    case 'atom': {
      const name = choose([c.name, c.name.toUpperCase(), c.name[0]!.toUpperCase() + c.name.slice(1)]);
      if (c.arg !== undefined) return `${name}(${choose(['"', "'"]).replace(/.*/, (q) => `${q}${c.arg}${q}`)})`;
      return choose([name, `${name}()`, `${name} ( )`]);
    }
    case 'not':
      return `${choose(['NOT ', 'not ', '!', '! '])}(${noisy(c.operand, pick)})`;
    case 'and':
      return `(${noisy(c.left, pick)})${choose([' AND ', ' and ', '&', ' && ', '\tAnd\n'])}(${noisy(c.right, pick)})`;
    case 'or':
      return `(${noisy(c.left, pick)})${choose([' OR ', ' or ', '|', ' || '])}(${noisy(c.right, pick)})`;
  }
}

describe('condition properties', () => {
  it('round-trips: parse(format(ast)) formats identically', () => {
    fc.assert(
      fc.property(conditionArb, (ast) => {
        const text = formatCondition(ast);
        const r = parseCondition(text);
        expect(r.ok).toBe(true);
        if (r.ok) expect(formatCondition(r.condition)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('the canonical text means the same thing as the tree it came from', () => {
    fc.assert(
      fc.property(conditionArb, envArb, (ast, env) => {
        const reparsed = parse(formatCondition(ast));
        expect(evaluate(reparsed, env)).toBe(evaluate(ast, env));
      }),
      { numRuns: 500 },
    );
  });

  it('any fully parenthesised spelling parses back to the same tree and canonical text', () => {
    fc.assert(
      fc.property(conditionArb, fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), (ast, seeds) => {
        let i = 0;
        const text = noisy(ast, () => seeds[i++ % seeds.length]!);
        const r = parseCondition(text);
        expect(r.ok, text).toBe(true);
        if (!r.ok) return;
        expect(r.condition).toEqual(ast);
        expect(formatCondition(r.condition)).toBe(formatCondition(ast));
      }),
      { numRuns: 500 },
    );
  });

  it('canonical form is idempotent on arbitrary text that parses', () => {
    const token = fc.constantFrom(
      'eager',
      'on_missing()',
      'IN_PROGRESS',
      'and',
      'OR',
      '!',
      '&',
      '||',
      '(',
      ')',
      'not',
      'on_interval("1d")',
      'on_cron("0 6 * * *")',
    );
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 12 }), (tokens) => {
        const r = parseCondition(tokens.join(' '));
        if (!r.ok) return;
        const once = formatCondition(r.condition);
        expect(canon(once)).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws: every input is either a tree or an error with an in-range offset', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const r = parseCondition(text);
        if (!r.ok) {
          expect(r.error.offset).toBeGreaterThanOrEqual(0);
          expect(r.error.offset).toBeLessThanOrEqual(text.length);
          expect(r.error.message).not.toBe('');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
