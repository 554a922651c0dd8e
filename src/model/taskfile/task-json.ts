/**
 * The documented, normalised JSON form of a task (`validate --json`, and later the HTTP and
 * MCP surfaces): snake_case keys, durations in seconds, canonical condition text.
 */
import type { TaskDefinition } from './task.js';

export function taskToJson(t: TaskDefinition): Record<string, unknown> {
  return {
    name: t.name,
    kind: t.kind,
    file: t.file,
    description: t.description,
    owner: t.owner,
    tags: t.tags,
    schedule: t.schedule,
    retries: t.retries,
    timeout_seconds: t.timeoutSeconds,
    incremental_by: t.incrementalBy,
    params: t.params,
    tests: t.tests.map((x) => ({ index: x.index, sql: x.sql, assertion: x.assertion, line: x.line, col: x.col })),
    asset: t.asset,
    partitions: t.partitions,
    automation: t.automation ? { condition: t.automation.condition, interval_unit: t.automation.intervalUnit } : null,
    target_lag_seconds: t.targetLagSeconds,
    freshness_lag_seconds: t.freshnessLagSeconds,
    checks: t.checks,
    check_severity: t.checkSeverity,
    interval: {
      start: t.interval.start,
      start_ts: t.interval.startTs,
      lookback: t.interval.lookback,
      allow_partials: t.interval.allowPartials,
    },
    inputs: t.inputs,
    outputs: t.outputs,
    lineage: t.lineage,
    depends_on: t.dependsOn,
    declared: { inputs: t.declaredInputs, outputs: t.declaredOutputs },
    code_version: t.codeVersion,
    statement_count: t.statementCount,
    body_line: t.bodyLine,
    sql: t.sql,
    function: t.function
      ? {
          module: t.function.module,
          export: t.function.exportName,
          dag: t.function.dag,
          ...(t.function.isolation ? { isolation: t.function.isolation } : {}),
        }
      : null,
  };
}
