import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePartitions, type PartitionDef } from '../../src/model/partitions/definition.js';
import { RangeSet } from '../../src/model/partitions/ranges.js';
import { PartitionSpace } from '../../src/model/partitions/space.js';

function space(text: string): PartitionSpace {
  const r = parsePartitions(text);
  if (!r.ok) throw new Error(r.error.message);
  return new PartitionSpace(r.value as PartitionDef);
}

const at = (iso: string) => new Date(iso);

describe('PartitionSpace: which partitions exist', () => {
  it('a daily partition exists once its day is over (UTC), without registering again', () => {
    const s = space('daily(start=2026-01-01)');
    expect(s.size(at('2025-12-31T23:00:00Z'))).toBe(0);
    expect(s.size(at('2026-01-01T23:59:59Z'))).toBe(0);
    expect(s.size(at('2026-01-02T00:00:00Z'))).toBe(1);
    expect(s.size(at('2026-01-11T12:00:00Z'))).toBe(10);
    expect(s.keyAt(9)).toBe('2026-01-10');
    expect(s.size(at('2026-01-12T00:00:00Z'))).toBe(11);
  });

  it('an end is inclusive and bounds the set', () => {
    const s = space('daily(start=2026-01-01, end=2026-01-05)');
    expect(s.size(at('2030-01-01T00:00:00Z'))).toBe(5);
    const l = s.locate('2026-01-06', at('2030-01-01T00:00:00Z'));
    expect(l).toEqual({ ok: false, message: '2026-01-06 is after the last partition 2026-01-05' });
  });

  it('hourly, weekly (Monday) and monthly keys are UTC calendar periods', () => {
    const now = at('2026-03-10T05:30:00Z');
    const h = space('hourly(start=2026-03-09)');
    expect(h.size(now)).toBe(29);
    expect(h.keyAt(28)).toBe('2026-03-10T04:00');
    const w = space('weekly(start=2026-01-05)');
    expect(w.size(now)).toBe(9);
    expect(w.keyAt(8)).toBe('2026-03-02');
    const m = space('monthly(start=2025-11)');
    expect(m.size(now)).toBe(4);
    expect([0, 1, 2, 3].map((i) => m.keyAt(i))).toEqual(['2025-11-01', '2025-12-01', '2026-01-01', '2026-02-01']);
    expect(m.window('2026-02-01')).toEqual({ start: at('2026-02-01T00:00:00Z'), end: at('2026-03-01T00:00:00Z') });
    expect(h.window('2026-03-10T04:00')).toEqual({ start: at('2026-03-10T04:00:00Z'), end: at('2026-03-10T05:00:00Z') });
  });

  it('keys outside the set, or not keys at all, say why', () => {
    const now = at('2026-06-01T00:00:00Z');
    const d = space('daily(start=2026-01-01)');
    expect(d.locate('2025-12-31', now)).toEqual({ ok: false, message: '2025-12-31 is before the first partition 2026-01-01' });
    expect(d.locate('2026-06-01', now)).toMatchObject({ ok: false, message: expect.stringContaining('does not exist yet') });
    expect(d.locate("x'); DROP TABLE raw.orders; --", now)).toMatchObject({ ok: false, message: expect.stringContaining('is not a date') });
    expect(d.locate('2026-02-30', now).ok).toBe(false);
    const w = space('weekly(start=2026-01-05)');
    expect(w.locate('2026-01-07', now)).toMatchObject({ ok: false, message: expect.stringContaining('in the week 2026-01-05') });
    const st = space('static(eu, us)');
    expect(st.locate('jp', now)).toEqual({ ok: false, message: '`jp` is not one of eu, us' });
    expect(st.locate('us', now)).toEqual({ ok: true, index: 1 });
  });

  it('multi keys join dimension values in name order; the time dimension is outermost in the index', () => {
    const s = space('multi(region=static(eu, jp, us), date=daily(start=2026-01-01))');
    const now = at('2026-01-03T10:00:00Z');
    expect(s.dimensions).toEqual(['date', 'region']);
    expect(s.size(now)).toBe(6);
    expect([...s.all(now).indices()].map((i) => s.keyAt(i))).toEqual([
      '2026-01-01|eu',
      '2026-01-01|jp',
      '2026-01-01|us',
      '2026-01-02|eu',
      '2026-01-02|jp',
      '2026-01-02|us',
    ]);
    expect(s.dimensionValues('2026-01-02|jp')).toEqual({ date: '2026-01-02', region: 'jp' });
    expect(s.locate('2026-01-02|jp', now)).toEqual({ ok: true, index: 4 });
    expect(s.locate('2026-01-02', now).ok).toBe(false);
    const jp = s.where('region', 'jp', now);
    expect(jp.ok && [...jp.set.indices()].map((i) => s.keyAt(i))).toEqual(['2026-01-01|jp', '2026-01-02|jp']);
    expect(s.where('country', 'jp', now)).toEqual({ ok: false, message: 'no dimension `country` (dimensions: date, region)' });
  });

  it('ranges compare as dates, both bounds inclusive; a range on a static partition is refused', () => {
    const now = at('2027-01-01T00:00:00Z');
    const d = space('daily(start=2026-01-01)');
    const r = d.between('2026-01-05', '2026-01-14', now);
    expect(r.ok && r.set.size).toBe(10);
    expect(r.ok && d.keyAt(r.set.ranges[0]![0])).toBe('2026-01-05');
    expect(d.between('2026-01-14', '2026-01-05', now)).toEqual({ ok: false, message: '--from 2026-01-14 is after --to 2026-01-05' });
    expect(d.between('2026-1-5', undefined, now).ok).toBe(false);
    const h = space('hourly(start=2026-01-01)');
    const day = h.between('2026-01-02', '2026-01-02', now);
    expect(day.ok && day.set.size).toBe(24);
    expect(space('static(a, b)').between('a', 'b', now).ok).toBe(false);
    // Wholly outside a bounded set: never there (a range in the future is merely empty for now).
    const bounded = space('daily(start=2026-11-01, end=2026-11-30)');
    expect(bounded.between('2025-01-01', '2025-01-05', now)).toEqual({
      ok: false,
      message: 'the range ends before the first partition 2026-11-01',
    });
    expect(bounded.between('2026-12-01', '2026-12-05', now)).toEqual({
      ok: false,
      message: 'the range starts after the last partition 2026-11-30',
    });
    const future = d.between('2027-02-01', '2027-02-05', now);
    expect(future.ok && future.set.size).toBe(0);
  });

  it('a century of hours is one range, counted without listing keys', () => {
    const h = space('hourly(start=1926-01-01)');
    const now = at('2026-01-01T00:00:00Z');
    expect(h.size(now)).toBe(876_600);
    expect(h.all(now).ranges.length).toBe(1);
    expect(h.keyAt(876_599)).toBe('2025-12-31T23:00');
  });

  it('keyAt and locate are inverse over every kind (property)', () => {
    const defs = [
      'daily(start=2020-02-27)',
      'hourly(start=2024-02-28T22:00)',
      'weekly(start=2023-12-25)',
      'monthly(start=2019-11)',
      'static(a, b, c)',
      'multi(x=static(p, q), t=monthly(start=2020-01), y=static(1, 2, 3))',
    ].map(space);
    const now = at('2026-12-07T12:00:00Z');
    fc.assert(
      fc.property(fc.constantFrom(...defs), fc.nat(), (s, n) => {
        const i = n % s.size(now);
        const key = s.keyAt(i);
        expect(s.locate(key, now)).toEqual({ ok: true, index: i });
      }),
    );
  });
});

describe('RangeSet', () => {
  const model = (s: RangeSet) => new Set(s.indices());
  const arb = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 8 })), { maxLength: 8 })
    .map((xs) => RangeSet.from(xs.map(([lo, n]) => [lo, lo + n] as const)));

  it('union, intersection and difference agree with sets of indices (property)', () => {
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const A = model(a);
        const B = model(b);
        expect(model(a.union(b))).toEqual(new Set([...A, ...B]));
        expect(model(a.intersect(b))).toEqual(new Set([...A].filter((i) => B.has(i))));
        expect(model(a.minus(b))).toEqual(new Set([...A].filter((i) => !B.has(i))));
        expect(a.size).toBe(A.size);
        for (let i = 0; i < 70; i++) expect(a.has(i)).toBe(A.has(i));
        // normal form: sorted, disjoint and never touching
        a.ranges.forEach(([lo, hi], k) => {
          expect(hi).toBeGreaterThan(lo);
          if (k > 0) expect(lo).toBeGreaterThan(a.ranges[k - 1]![1]);
        });
      }),
    );
  });

  it('ofIndices merges neighbours; tail gives the last indices in order', () => {
    const s = RangeSet.ofIndices([5, 3, 4, 9, 10, 1]);
    expect(s.ranges).toEqual([
      [1, 2],
      [3, 6],
      [9, 11],
    ]);
    expect(s.tail(4)).toEqual([4, 5, 9, 10]);
  });
});
