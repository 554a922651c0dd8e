/** Automation conditions evaluated against a state and an injected clock: met, and why. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCondition, type Condition } from '../../src/model/automation/condition.js';
import { evaluateCondition, type AutomationState } from '../../src/model/automation/evaluate.js';

const NOW = new Date('2026-12-08T12:00:00Z');
const at = (iso: string) => new Date(iso);

function cond(text: string): Condition {
  const r = parseCondition(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.condition;
}

function state(patch: Partial<AutomationState> = {}): AutomationState {
  return {
    asset: 'analytics.region_total',
    lastSuccessAt: at('2026-12-08T11:58:00Z'),
    upstream: [{ asset: 'raw.orders', lastSuccessAt: at('2026-12-08T11:00:00Z') }],
    inProgress: 0,
    partitions: null,
    intervalsDue: null,
    freshnessLagSeconds: null,
    targetLagSeconds: null,
    ...patch,
  };
}

const met = (text: string, s: AutomationState, now = NOW) => evaluateCondition(cond(text), s, now);

describe('automation atoms', () => {
  it('eager: an upstream materialised after the asset, or the asset never was; never without upstream', () => {
    expect(met('eager', state()).met).toBe(false);
    const newer = met('eager', state({ upstream: [{ asset: 'raw.orders', lastSuccessAt: at('2026-12-08T12:03:00Z') }] }));
    expect(newer).toMatchObject({
      met: true,
      reason: {
        label: 'eager()',
        detail: "upstream raw.orders materialised 2026-12-08T12:03:00Z, after this asset's 2026-12-08T11:58:00Z",
      },
    });
    expect(met('eager', state({ lastSuccessAt: null })).reason.detail).toBe('never materialised');
    expect(met('eager', state({ upstream: [], lastSuccessAt: null })).met).toBe(false);
  });

  it('on_cron: a tick since the last success, in the state’s time zone', () => {
    // Daily at 06:00: the last success (11:58) is after today's tick.
    expect(met('on_cron("0 6 * * *")', state()).met).toBe(false);
    expect(met('on_cron("0 6 * * *")', state({ lastSuccessAt: at('2026-12-08T05:00:00Z') })).met).toBe(true);
    // 06:00 in Tokyo is 21:00 UTC the day before: due since then.
    const tokyo = state({ lastSuccessAt: at('2026-12-07T20:00:00Z'), timeZone: 'Asia/Tokyo' });
    expect(met('on_cron("0 6 * * *")', tokyo)).toMatchObject({
      met: true,
      reason: { detail: expect.stringMatching(/^tick 2026-12-07T21:00:00Z/) },
    });
    expect(met('on_cron("0 6 * * *")', state({ lastSuccessAt: null })).met).toBe(true);
  });

  it('on_missing: never materialised when unpartitioned, a partition missing when partitioned', () => {
    expect(met('on_missing', state()).met).toBe(false);
    expect(met('on_missing', state({ lastSuccessAt: null })).met).toBe(true);
    expect(met('on_missing', state({ partitions: { total: 10, missing: 2 } }))).toMatchObject({
      met: true,
      reason: { detail: '2 of 10 partitions missing' },
    });
    expect(met('on_missing', state({ partitions: { total: 10, missing: 0 } })).met).toBe(false);
  });

  it('freshness_violated, in_progress and on_interval read their part of the state', () => {
    expect(met('freshness_violated', state()).reason.detail).toBe('no freshness policy');
    expect(met('freshness_violated', state({ freshnessLagSeconds: 60 })).met).toBe(true);
    expect(met('freshness_violated', state({ freshnessLagSeconds: 3600 })).met).toBe(false);
    expect(met('in_progress', state({ inProgress: 2 }))).toMatchObject({ met: true, reason: { detail: '2 jobs pending or running' } });
    expect(met('in_progress', state()).met).toBe(false);
    expect(met('on_interval("daily")', state({ intervalsDue: 3 })).reason.detail).toBe('3 gaps of unprocessed intervals due');
    expect(met('on_interval("daily")', state()).met).toBe(false);
  });
});

describe('automation conditions', () => {
  it('explain AND and OR by the side that decided, short-circuiting as written', () => {
    const r = met('on_missing AND NOT in_progress', state({ lastSuccessAt: null }));
    expect(r.met).toBe(true);
    expect(r.reason.children!.map((c) => c.label)).toEqual(['on_missing()', 'NOT']);
    const short = met('in_progress OR eager', state({ inProgress: 1 }));
    expect(short.reason.children!.map((c) => c.label)).toEqual(['in_progress()']);
  });

  it('are throttled by the target lag: a success younger than it holds everything back', () => {
    const s = state({ targetLagSeconds: 600, upstream: [{ asset: 'raw.orders', lastSuccessAt: at('2026-12-08T11:59:00Z') }] });
    expect(met('eager', s)).toMatchObject({
      met: false,
      reason: { label: 'target_lag', detail: 'throttled: last success 2min ago, under its target lag of 10min' },
    });
    expect(met('eager', s, at('2026-12-08T12:09:00Z')).met).toBe(true);
    // Never materialised: never throttled.
    expect(met('eager', { ...s, lastSuccessAt: null }).met).toBe(true);
  });

  it('NOT inverts, AND and OR combine as booleans, whatever the state', () => {
    const atoms = ['eager', 'on_missing', 'freshness_violated', 'in_progress', 'on_cron("0 * * * *")'];
    const arbState = fc.record({
      last: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: null }),
      up: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: null }),
      inProgress: fc.integer({ min: 0, max: 2 }),
      lag: fc.option(fc.integer({ min: 1, max: 7200 }), { nil: null }),
    });
    fc.assert(
      fc.property(fc.constantFrom(...atoms), fc.constantFrom(...atoms), arbState, (a, b, x) => {
        const s = state({
          lastSuccessAt: x.last === null ? null : new Date(NOW.getTime() - x.last * 1000),
          upstream: [{ asset: 'u', lastSuccessAt: x.up === null ? null : new Date(NOW.getTime() - x.up * 1000) }],
          inProgress: x.inProgress,
          freshnessLagSeconds: x.lag,
        });
        const [ma, mb] = [met(a, s).met, met(b, s).met];
        expect(met(`NOT ${a}`, s).met).toBe(!ma);
        expect(met(`${a} AND ${b}`, s).met).toBe(ma && mb);
        expect(met(`${a} OR ${b}`, s).met).toBe(ma || mb);
      }),
    );
  });
});
