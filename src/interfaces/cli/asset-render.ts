/** How the `asset` commands print: an asset's card, its materialisations, the partition calendar and health. */
import pc from 'picocolors';
import type { AssetHealth, AssetView, Freshness, PartitionsView } from '../../app/project.js';
import { formatDuration } from '../../model/duration.js';
import { RangeSet } from '../../model/partitions/ranges.js';
import { partitionSpace, type PartitionSpace } from '../../model/partitions/space.js';
import { STATUS_GLYPH, type PartitionStatus } from '../../model/partitions/status.js';
import type { CheckResultRecord, MaterializationRecord } from '../../store/ledger.js';
import { colourStatus, formatMs, formatTime, plural, table } from './render.js';

/** Periods the calendar shows (spec: the last 28). */
const CALENDAR_PERIODS = 28;
/** Ranges of each status the calendar names below it. */
const RANGES_NAMED = 5;
const STATUSES: readonly PartitionStatus[] = ['succeeded', 'running', 'failed', 'missing'];
const WORD: Record<PartitionStatus, string> = { succeeded: 'ok', running: 'running', failed: 'failed', missing: 'missing' };

export function materializationJson(m: MaterializationRecord): Record<string, unknown> {
  return {
    asset_name: m.asset,
    partition_key: m.partitionKey,
    status: m.status,
    rows: m.rows,
    bytes: m.bytes,
    code_version: m.codeVersion,
    run_id: m.runId,
    job_id: m.jobId,
    attempt: m.attempt,
    task: m.task,
    started_at: m.startedAt,
    finished_at: m.finishedAt,
    duration_ms: m.startedAt ? m.finishedAt.getTime() - m.startedAt.getTime() : null,
  };
}

export function freshnessJson(f: Freshness): Record<string, unknown> {
  return {
    status: f.status,
    max_lag_seconds: f.maxLagSeconds,
    last_success_at: f.lastSuccessAt,
    violated_since: f.status === 'violated' ? f.violatedSince : null,
  };
}

export function assetJson(a: AssetView): Record<string, unknown> {
  return {
    name: a.name,
    kind: a.kind,
    group: a.group,
    owner: a.owner,
    description: a.description,
    tags: a.tags,
    code_version: a.codeVersion,
    task: a.definedByTask,
    upstream: a.upstream,
    downstream: a.downstream,
    partitions: a.partitions ? { description: a.partitions.description, definition: a.partitions.definition } : null,
    checks: a.checks.map((c) => ({ name: c.name, sql: c.sql, op: c.op, value: c.value, severity: c.severity })),
    freshness_max_lag_seconds: a.freshnessLagSeconds,
    automation_condition: a.automationCondition,
  };
}

export function materializationRows(ms: readonly MaterializationRecord[]): string {
  return table([
    ['FINISHED', 'PARTITION', 'STATUS', 'ROWS', 'DURATION', 'RUN', 'CODE VERSION'].map((h) => pc.dim(h)),
    ...ms.map((m) => [
      formatTime(m.finishedAt),
      m.partitionKey === '__default__' ? pc.dim('-') : m.partitionKey,
      colourStatus(m.status),
      m.rows === null ? '' : String(m.rows),
      formatMs(m.startedAt ? m.finishedAt.getTime() - m.startedAt.getTime() : null),
      m.runId.slice(0, 8),
      (m.codeVersion ?? '').slice(0, 20),
    ]),
  ]);
}

function describeFreshness(f: Freshness): string {
  if (f.status === 'none') return pc.dim('no policy');
  const lag = formatDuration(f.maxLagSeconds!);
  if (f.status === 'ok') return `${pc.green('ok')} (max lag ${lag}; stale after ${formatTime(f.violatedSince)})`;
  return `${pc.red('violated')} ${f.violatedSince ? `since ${formatTime(f.violatedSince)}` : '(never materialised)'} (max lag ${lag})`;
}

export function assetCard(a: AssetView, last: MaterializationRecord | null, fresh: Freshness, partitions: PartitionsView | null): string {
  const rows: string[][] = [
    ['kind', a.kind],
    ['group', a.group ?? pc.dim('-')],
    ['owner', a.owner ?? pc.dim('-')],
    ...(a.description ? [['description', a.description]] : []),
    ...(a.tags.length ? [['tags', a.tags.join(', ')]] : []),
    ['task', a.definedByTask],
    ['code version', a.codeVersion],
    ['upstream', a.upstream.join(', ') || pc.dim('-')],
    ['downstream', a.downstream.join(', ') || pc.dim('-')],
    ['partitions', partitions ? `${partitions.description}: ${statusLine(partitions)}` : pc.dim('not partitioned')],
    ['checks', a.checks.map((c) => `${c.name} (${c.op}${c.value !== null ? ` ${c.value}` : ''}, ${c.severity})`).join(', ') || pc.dim('-')],
    ['freshness', describeFreshness(fresh)],
    [
      'last materialised',
      last
        ? `${formatTime(last.finishedAt)} ${colourStatus(last.status)}${last.partitionKey !== '__default__' ? ` [${last.partitionKey}]` : ''}${last.rows !== null ? `, ${plural(last.rows, 'row')}` : ''} (run ${last.runId.slice(0, 8)})`
        : pc.dim('never'),
    ],
  ];
  return `${pc.bold(a.name)}\n${table(rows.map(([k, v]) => [pc.dim(k!), v!]))}`;
}

function countOf(p: PartitionsView, s: PartitionStatus): number {
  return RangeSet.from(p.ranges[s]).size;
}

export function partitionsJson(p: PartitionsView): Record<string, unknown> {
  const space = partitionSpace(p.definition);
  const sets = setsOf(p);
  return {
    asset: p.asset,
    partitions: p.description,
    at: p.at,
    total: p.total,
    counts: Object.fromEntries(STATUSES.map((s) => [s, countOf(p, s)])),
    ranges: Object.fromEntries(
      STATUSES.map((s) => [s, p.ranges[s].map(([lo, hi]) => ({ from: space.keyAt(lo), to: space.keyAt(hi - 1), count: hi - lo }))]),
    ),
    recent: shownIndices(space, p).map((i) => ({ partition_key: space.keyAt(i), status: statusAt(sets, i) })),
  };
}

function setsOf(p: PartitionsView): Record<PartitionStatus, RangeSet> {
  return Object.fromEntries(STATUSES.map((s) => [s, RangeSet.from(p.ranges[s])])) as Record<PartitionStatus, RangeSet>;
}

function statusAt(sets: Record<PartitionStatus, RangeSet>, i: number): PartitionStatus {
  return STATUSES.find((s) => sets[s].has(i)) ?? 'missing';
}

/** The partitions the calendar shows: the last periods (every static value of each), or all of a static set up to a page. */
function shownIndices(space: PartitionSpace, p: PartitionsView): number[] {
  const perPeriod = space.isTimed ? p.total / Math.max(1, space.periods(p.at)) : p.total;
  const count = space.isTimed ? CALENDAR_PERIODS * perPeriod : Math.min(p.total, 200);
  return RangeSet.of(0, p.total).tail(count);
}

export function statusLine(p: PartitionsView): string {
  return STATUSES.map((s) => `${countOf(p, s)} ${STATUS_GLYPH[s]} ${WORD[s]}`).join(', ') + ` (${plural(p.total, 'partition')})`;
}

/** The calendar: the latest partitions with a glyph each, the ranges not ok, and the status line. */
export function partitionCalendar(p: PartitionsView): string {
  const space = partitionSpace(p.definition);
  const sets = setsOf(p);
  const lines = [`${pc.bold(p.asset)}  (${p.description})`];
  const shown = shownIndices(space, p);
  const cell = (i: number) => `${space.keyAt(i)} ${STATUS_GLYPH[statusAt(sets, i)]}`;
  if (space.dimensions.length === 0 && space.isTimed) {
    for (let k = 0; k < shown.length; k += 3)
      lines.push(
        `  ${shown
          .slice(k, k + 3)
          .map(cell)
          .join('   ')}`,
      );
  } else if (space.dimensions.length === 0) {
    for (const i of shown) lines.push(`  ${STATUS_GLYPH[statusAt(sets, i)]} ${space.keyAt(i)}`);
  } else {
    // Grouped by the outer dimension's value (the period, when one is time), as duckOrch prints multi partitions.
    const outer = space.outerDimension;
    let head: string | undefined;
    for (const i of shown) {
      const key = space.keyAt(i);
      const value = space.dimensionValues(key)[outer]!;
      if (value !== head) lines.push(`  ${outer}=${(head = value)}`);
      lines.push(`    ${STATUS_GLYPH[statusAt(sets, i)]} ${key}`);
    }
  }
  if (shown.length < p.total) lines.push(pc.dim(`  (the latest ${shown.length} of ${p.total})`));
  for (const s of ['failed', 'running', 'missing'] as const) {
    const ranges = p.ranges[s];
    if (ranges.length === 0) continue;
    const named = ranges
      .slice(0, RANGES_NAMED)
      .map(([lo, hi]) => (hi - lo === 1 ? space.keyAt(lo) : `${space.keyAt(lo)} … ${space.keyAt(hi - 1)} (${hi - lo})`));
    lines.push(
      `  ${STATUS_GLYPH[s]} ${WORD[s]}: ${named.join(', ')}${ranges.length > RANGES_NAMED ? `, and ${ranges.length - RANGES_NAMED} more ranges` : ''}`,
    );
  }
  lines.push('', `Status: ${statusLine(p)}`);
  return lines.join('\n');
}

export function healthJson(h: AssetHealth): Record<string, unknown> {
  return {
    asset_name: h.name,
    kind: h.kind,
    group: h.group,
    last_status: h.lastStatus,
    last_at: h.lastAt,
    runs_24h: h.runs24h,
    succeeded_24h: h.succeeded24h,
    failed_24h: h.failed24h,
    freshness: freshnessJson(h),
  };
}

export function healthTable(rows: readonly AssetHealth[]): string {
  return table([
    ['ASSET', 'FRESHNESS', 'LAST', 'LAST STATUS', '24H OK', '24H FAILED'].map((h) => pc.dim(h)),
    ...rows.map((h) => [
      h.name,
      h.status === 'none'
        ? pc.dim('none')
        : h.status === 'ok'
          ? pc.green('ok')
          : pc.red(`violated${h.violatedSince ? ` since ${formatTime(h.violatedSince)}` : ''}`),
      formatTime(h.lastAt),
      h.lastStatus ? colourStatus(h.lastStatus) : pc.dim('never'),
      String(h.succeeded24h),
      h.failed24h ? pc.red(String(h.failed24h)) : '0',
    ]),
  ]);
}

export function checkResultJson(c: CheckResultRecord): Record<string, unknown> {
  return {
    asset_name: c.asset,
    partition_key: c.partitionKey,
    check_name: c.check,
    passed: c.passed,
    severity: c.severity,
    value: c.value,
    expected: c.expected,
    error: c.error,
    run_id: c.runId,
    job_id: c.jobId,
    checked_at: c.checkedAt,
  };
}

/** One line per check result; with `history`, when and of which partition and run. */
export function checkTable(results: readonly CheckResultRecord[], history: boolean): string {
  const status = (c: CheckResultRecord) => (c.passed ? pc.green('pass') : c.severity === 'error' ? pc.red('fail') : pc.yellow('warn'));
  return table([
    [...(history ? ['CHECKED', 'PARTITION'] : []), 'CHECK', 'STATUS', 'VALUE', 'EXPECTED', 'SEVERITY', ...(history ? ['RUN'] : []), ''].map(
      (h) => pc.dim(h),
    ),
    ...results.map((c) => [
      ...(history ? [formatTime(c.checkedAt), c.partitionKey === '__default__' ? pc.dim('-') : c.partitionKey] : []),
      c.check,
      status(c),
      c.value ?? pc.dim('NULL'),
      c.expected,
      c.severity,
      ...(history ? [c.runId?.slice(0, 8) ?? pc.dim('check run')] : []),
      c.passed ? '' : pc.dim(c.error ?? ''),
    ]),
  ]);
}
