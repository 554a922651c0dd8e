/**
 * The JSON form of what evaluating an asset's condition reads (`automation simulate --state`):
 * a policy can be tried offline, and the engine's tests written as data. Field names are the
 * ledger's words; times are ISO 8601 instants, `null` for never.
 *
 *     { "last_success_at": "2026-12-08T11:58:00Z",
 *       "upstream": [{ "asset": "raw.orders", "last_success_at": "2026-12-08T12:03:00Z" }],
 *       "in_progress": 0, "partitions": { "total": 2000, "missing": 3 }, "intervals_due": null,
 *       "freshness_lag_seconds": 3600, "target_lag_seconds": null, "time_zone": "Europe/Paris" }
 *
 * Every field but `upstream` may be left out (never materialised, nothing in progress,
 * unpartitioned, no interval task, no policy, UTC).
 */
import * as v from 'valibot';
import type { AutomationState } from './evaluate.js';

const instant = v.pipe(
  v.string(),
  v.check((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 instant such as 2026-12-08T06:00:00Z'),
  v.transform((s) => new Date(s)),
);
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const seconds = v.pipe(v.number(), v.minValue(0));

const StateFile = v.strictObject({
  asset: v.optional(v.string()),
  last_success_at: v.optional(v.nullable(instant), null),
  upstream: v.array(v.strictObject({ asset: v.string(), last_success_at: v.optional(v.nullable(instant), null) })),
  in_progress: v.optional(count, 0),
  partitions: v.optional(v.nullable(v.strictObject({ total: count, missing: count })), null),
  intervals_due: v.optional(v.nullable(count), null),
  freshness_lag_seconds: v.optional(v.nullable(seconds), null),
  target_lag_seconds: v.optional(v.nullable(seconds), null),
  time_zone: v.optional(v.string()),
});

/** The state a file describes, or what is wrong with it: the field's path and the expected form. */
export function parseAutomationState(json: unknown, asset: string): { ok: true; state: AutomationState } | { ok: false; message: string } {
  const r = v.safeParse(StateFile, json);
  if (!r.success) {
    const issue = r.issues[0];
    const path = v.getDotPath(issue) ?? '(the document)';
    return { ok: false, message: `${path}: ${issue.message}` };
  }
  const f = r.output;
  return {
    ok: true,
    state: {
      asset: f.asset ?? asset,
      lastSuccessAt: f.last_success_at,
      upstream: f.upstream.map((u) => ({ asset: u.asset, lastSuccessAt: u.last_success_at })),
      inProgress: f.in_progress,
      partitions: f.partitions,
      intervalsDue: f.intervals_due,
      freshnessLagSeconds: f.freshness_lag_seconds,
      targetLagSeconds: f.target_lag_seconds,
      ...(f.time_zone !== undefined ? { timeZone: f.time_zone } : {}),
    },
  };
}

/** The state as the file writes it (what `simulate --json` shows it read). */
export function automationStateJson(s: AutomationState): Record<string, unknown> {
  return {
    asset: s.asset,
    last_success_at: s.lastSuccessAt,
    upstream: s.upstream.map((u) => ({ asset: u.asset, last_success_at: u.lastSuccessAt })),
    in_progress: s.inProgress,
    partitions: s.partitions,
    intervals_due: s.intervalsDue,
    freshness_lag_seconds: s.freshnessLagSeconds,
    target_lag_seconds: s.targetLagSeconds,
    ...(s.timeZone !== undefined ? { time_zone: s.timeZone } : {}),
  };
}
