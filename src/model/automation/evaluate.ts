/**
 * Evaluates an automation condition (spec §2, with its bugs fixed) against what the ledger says
 * of one asset, at an injected `now`: met or not, and why, as a tree of reasons a user can read.
 * Pure: the engine builds the state from the ledger, `automation simulate --state` from a file,
 * and tests from data.
 *
 * Fixed against the spec: `in_progress()` is true exactly while a job of the asset is pending or
 * claimed; `on_missing()` means "never materialised" for an unpartitioned asset and "a partition
 * missing" for a partitioned one; `on_cron` is read in the state's time zone (UTC by default).
 */
import { Cron } from 'croner';
import type { Condition } from './condition.js';

/** What evaluating one asset's condition reads. Times are instants; absent means never. */
export interface AutomationState {
  asset: string;
  /** The asset's latest successful materialisation (over its partitions, when partitioned). */
  lastSuccessAt: Date | null;
  /** Each upstream asset's latest successful materialisation. */
  upstream: ReadonlyArray<{ asset: string; lastSuccessAt: Date | null }>;
  /** Jobs of the asset pending or claimed in the ledger. */
  inProgress: number;
  /** A partitioned asset's partitions that exist and have never succeeded; null when unpartitioned. */
  partitions: { total: number; missing: number } | null;
  /** An interval task's gaps of unprocessed intervals due (each one batch); null for other assets. */
  intervalsDue: number | null;
  freshnessLagSeconds: number | null;
  targetLagSeconds: number | null;
  /** IANA time zone `on_cron` reads its expression in; UTC when absent. */
  timeZone?: string;
}

export interface Reason {
  /** The condition part, as written canonically (`eager()`, `AND`, …). */
  label: string;
  met: boolean;
  /** Why, in words: `upstream raw.orders materialised 2026-12-08T12:03:00Z, after this asset's …`. */
  detail: string;
  children?: Reason[];
}

export interface Evaluation {
  met: boolean;
  reason: Reason;
}

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

/** Parsed schedules by expression and time zone: parsing one costs more than evaluating a condition. */
const crons = new Map<string, Cron>();

function cronOf(expr: string, timeZone: string): Cron {
  const key = `${timeZone}\0${expr}`;
  let cron = crons.get(key);
  if (!cron) crons.set(key, (cron = new Cron(expr, { paused: true, timezone: timeZone })));
  return cron;
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}min` : `${Math.round(s / 3600)}h`;
}

export function evaluateCondition(condition: Condition, state: AutomationState, now: Date): Evaluation {
  // The target lag throttles the whole condition: an asset that ran less than its lag ago waits.
  const lag = state.targetLagSeconds;
  if (lag !== null && state.lastSuccessAt !== null) {
    const age = now.getTime() - state.lastSuccessAt.getTime();
    if (age >= 0 && age < lag * 1000)
      return {
        met: false,
        reason: {
          label: 'target_lag',
          met: false,
          detail: `throttled: last success ${seconds(age)} ago, under its target lag of ${seconds(lag * 1000)}`,
        },
      };
  }
  const reason = evaluate(condition, state, now);
  return { met: reason.met, reason };
}

function evaluate(c: Condition, state: AutomationState, now: Date): Reason {
  switch (c.kind) {
    case 'not': {
      const inner = evaluate(c.operand, state, now);
      return { label: 'NOT', met: !inner.met, detail: inner.met ? 'its operand is met' : 'its operand is not met', children: [inner] };
    }
    case 'and':
    case 'or': {
      const left = evaluate(c.left, state, now);
      const label = c.kind === 'and' ? 'AND' : 'OR';
      // Short-circuit as written: the right side is not looked at once the left decides.
      if (left.met === (c.kind === 'or'))
        return { label, met: left.met, detail: `decided by its left side (${left.met ? 'met' : 'not met'})`, children: [left] };
      const right = evaluate(c.right, state, now);
      return { label, met: right.met, detail: `decided by its right side (${right.met ? 'met' : 'not met'})`, children: [left, right] };
    }
    case 'atom':
      return atom(c, state, now);
  }
}

function atom(c: Extract<Condition, { kind: 'atom' }>, s: AutomationState, now: Date): Reason {
  const label = c.arg === undefined ? `${c.name}()` : `${c.name}("${c.arg}")`;
  const out = (met: boolean, detail: string): Reason => ({ label, met, detail });
  const own = s.lastSuccessAt;
  switch (c.name) {
    case 'eager': {
      if (s.upstream.length === 0) return out(false, 'the asset has no upstream asset');
      if (own === null) return out(true, 'never materialised');
      const newer = s.upstream.filter((u) => u.lastSuccessAt !== null && u.lastSuccessAt > own);
      if (newer.length === 0) return out(false, `no upstream asset materialised since this asset's ${iso(own)}`);
      const first = newer.reduce((a, b) => (b.lastSuccessAt! > a.lastSuccessAt! ? b : a));
      const more = newer.length > 1 ? ` (and ${newer.length - 1} more)` : '';
      return out(true, `upstream ${first.asset} materialised ${iso(first.lastSuccessAt!)}${more}, after this asset's ${iso(own)}`);
    }
    case 'on_cron': {
      // Due when a tick fell since the last success; never materialised, when one fell at all.
      const anchor = own ?? new Date(now.getTime() - 366 * 86_400_000);
      const tick = cronOf(c.arg!, s.timeZone ?? 'UTC').nextRun(anchor);
      if (tick && tick <= now)
        return out(true, own ? `tick ${iso(tick)} since the last success ${iso(own)}` : `tick ${iso(tick)}; never materialised`);
      return out(false, tick ? `next tick ${iso(tick)}` : 'the expression has no tick to come');
    }
    case 'on_interval': {
      if (s.intervalsDue === null) return out(false, 'the asset is not an interval task');
      return out(
        s.intervalsDue > 0,
        s.intervalsDue > 0 ? `${s.intervalsDue} gap${s.intervalsDue === 1 ? '' : 's'} of unprocessed intervals due` : 'no interval due',
      );
    }
    case 'on_missing': {
      if (s.partitions === null) return out(own === null, own === null ? 'never materialised' : `materialised ${iso(own)}`);
      const { missing, total } = s.partitions;
      return out(missing > 0, missing > 0 ? `${missing} of ${total} partitions missing` : `all ${total} partitions materialised`);
    }
    case 'freshness_violated': {
      const lag = s.freshnessLagSeconds;
      if (lag === null) return out(false, 'no freshness policy');
      if (own === null) return out(true, 'never materialised');
      const age = now.getTime() - own.getTime();
      return age > lag * 1000
        ? out(true, `last success ${seconds(age)} ago, over its max lag of ${seconds(lag * 1000)}`)
        : out(false, `last success ${seconds(age)} ago, within its max lag of ${seconds(lag * 1000)}`);
    }
    case 'in_progress':
      return out(
        s.inProgress > 0,
        s.inProgress > 0 ? `${s.inProgress} job${s.inProgress === 1 ? '' : 's'} pending or running` : 'no job pending or running',
      );
  }
}
