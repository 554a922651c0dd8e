import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIntervalUnit } from '../../src/model/interval-unit.js';

describe('parseIntervalUnit', () => {
  it.each<[string, number, string]>([
    ['daily', 1440, 'daily'],
    ['DAILY', 1440, 'daily'],
    ['  hourly ', 60, 'hourly'],
    ['1d', 1440, 'daily'],
    ['1 day', 1440, 'daily'],
    ['2d', 2880, '2d'],
    ['3 days', 4320, '3d'],
    ['1h', 60, 'hourly'],
    ['1hr', 60, 'hourly'],
    ['6h', 360, '6h'],
    ['3h', 180, '3h'],
    ['180m', 180, '3h'],
    ['3d', 4320, '3d'],
    ['4320min', 4320, '3d'],
    ['1500m', 1500, '25h'],
    ['6 hours', 360, '6h'],
    ['2hrs', 120, '2h'],
    ['24h', 1440, 'daily'],
    ['48h', 2880, '2d'],
    ['15m', 15, '15min'],
    ['15min', 15, '15min'],
    ['15 mins', 15, '15min'],
    ['1 minute', 1, '1min'],
    ['45 minutes', 45, '45min'],
    ['60m', 60, 'hourly'],
    ['90m', 90, '90min'],
    ['120min', 120, '2h'],
    ['1440m', 1440, 'daily'],
    ['2880m', 2880, '2d'],
  ])('%j → %i minutes, canonical %s', (text, minutes, canonical) => {
    expect(parseIntervalUnit(text)).toEqual({ minutes, canonical });
  });

  it.each([
    '',
    '0d',
    '0h',
    '0m',
    '30s',
    '30 seconds',
    '1.5h',
    '-1h',
    'weekly',
    '1w',
    'h',
    'd2',
    '1 h 30 m',
    'hourlyx',
    '99999999999999999999d',
  ])('rejects %j', (text) => {
    expect(parseIntervalUnit(text)).toBeUndefined();
  });

  it('canonical names reparse to the same unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('m', 'h', 'd'), (n, u) => {
        const unit = parseIntervalUnit(`${n}${u}`);
        expect(unit).toBeDefined();
        expect(unit!.minutes).toBe(n * ({ m: 1, h: 60, d: 1440 } as Record<string, number>)[u]!);
        expect(parseIntervalUnit(unit!.canonical)).toEqual(unit);
      }),
    );
  });
});
