import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseDurationExact } from '../../src/model/duration.js';

describe('parseDuration', () => {
  it.each<[string, number]>([
    // Bare numbers are seconds.
    ['300', 300],
    ['0', 0],
    ['  42  ', 42],
    ['1.5', 2],
    ['1.4', 1],
    ['0.2', 1],
    ['.5', 1],
    // Milliseconds: the total rounds half-up like every other unit, with a minimum of 1.
    ['500ms', 1],
    ['1000ms', 1],
    ['1001ms', 1],
    ['1499ms', 1],
    ['1500ms', 2],
    ['2500 milliseconds', 3],
    ['1 millisecond', 1],
    ['0ms', 0],
    // Seconds.
    ['30s', 30],
    ['30 sec', 30],
    ['30secs', 30],
    ['1 second', 1],
    ['2 seconds', 2],
    // Minutes, including the spellings the original rejected.
    ['5m', 300],
    ['5min', 300],
    ['5mins', 300],
    ['5 minute', 300],
    ['5 minutes', 300],
    ['0.5m', 30],
    // Hours.
    ['1h', 3600],
    ['1.5h', 5400],
    ['2hr', 7200],
    ['2hrs', 7200],
    ['1 hour', 3600],
    ['3 hours', 10800],
    // Days and weeks.
    ['2d', 172800],
    ['1 day', 86400],
    ['7 days', 604800],
    ['1w', 604800],
    ['2wk', 1209600],
    ['1 week', 604800],
    ['2 weeks', 1209600],
    // Compounds.
    ['1h30m', 5400],
    ['1h 30m', 5400],
    ['1d2h3m4s', 93784],
    ['1m30s', 90],
    ['1s500ms', 2],
    // Case and quotes.
    ['5 MINUTES', 300],
    ['1H30M', 5400],
    ['"10m"', 600],
    ["'10m'", 600],
  ])('%j → %i', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    '',
    '   ',
    'abc',
    'DOWNSTREAM',
    '5 fortnights',
    '-5s',
    '1h30',
    '30 1h',
    '5m 10',
    '1e3',
    '1,5h',
    '1..5h',
    'h',
    '1h-30m',
    '5 m s',
    '""',
  ])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('returns 0 (not undefined) for zero durations, so callers can reject them with their own message', () => {
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('0h0m')).toBe(0);
  });

  it('gives at least one second for any positive value', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), fc.constantFrom('ms', 's', 'm', 'h', 'd', 'w'), (n, unit) => {
        const text = `${n.toFixed(6)}${unit}`;
        const s = parseDuration(text);
        if (Number(n.toFixed(6)) === 0) return;
        expect(s).toBeGreaterThanOrEqual(1);
        expect(Number.isInteger(s)).toBe(true);
      }),
    );
  });
});

describe('parseDurationExact', () => {
  it.each<[string, number]>([
    ['200ms', 0.2],
    ['1.5s', 1.5],
    ['1s250ms', 1.25],
    ['0.1', 0.1],
    ['1h', 3600],
    ['1.5h', 5400],
    ['0', 0],
  ])('%j → %d seconds, unrounded', (text, seconds) => {
    expect(parseDurationExact(text)).toBeCloseTo(seconds, 9);
  });

  it.each(['', 'abc', '1h30', '-1s'])('rejects %j', (text) => {
    expect(parseDurationExact(text)).toBeUndefined();
  });

  it('agrees with parseDuration after rounding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.constantFrom('ms', 's', 'm', 'h'), (n, unit) => {
        const text = `${n}${unit}`;
        const exact = parseDurationExact(text)!;
        expect(parseDuration(text)).toBe(Math.max(1, Math.floor(exact + 0.5)));
      }),
    );
  });
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [1, '1s'],
    [59, '59s'],
    [60, '1m'],
    [90, '1m30s'],
    [3600, '1h'],
    [3661, '1h1m1s'],
    [86400, '1d'],
    [90000, '1d1h'],
    [604800, '7d'],
    [93784, '1d2h3m4s'],
  ])('%i → %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('round-trips through parseDuration for every whole number of seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86400 }), (n) => {
        expect(parseDuration(formatDuration(n))).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });

  it('parse → format → parse is stable for any accepted duration text', () => {
    const part = fc.tuple(fc.integer({ min: 0, max: 500 }), fc.constantFrom('s', 'm', 'min', 'h', 'hr', 'd', 'w', ' minutes', ' days'));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
        const text = parts.map(([n, u]) => `${n}${u}`).join(' ');
        const seconds = parseDuration(text);
        expect(seconds).toBe(
          parts.reduce(
            (acc, [n, u]) =>
              acc +
              n *
                (
                  { s: 1, m: 60, min: 60, h: 3600, hr: 3600, d: 86400, w: 604800, ' minutes': 60, ' days': 86400 } as Record<string, number>
                )[u]!,
            0,
          ),
        );
        expect(parseDuration(formatDuration(seconds!))).toBe(seconds);
      }),
    );
  });
});
