/**
 * Turns header lines into a `TaskHeader`, collecting every error and warning with its
 * `file:line:col` instead of stopping at the first (spec §1, with its gaps fixed).
 */
import { DuckorchError } from '../../errors.js';
import { CONDITION_FORM, firstIntervalUnit, formatCondition, parseCondition } from '../automation/condition.js';
import { CRON_FORM, checkCron } from '../cron.js';
import { DURATION_FORM, parseDuration } from '../duration.js';
import { parseDatasetName } from '../names.js';
import { PARTITION_FORM, parsePartitions } from '../partitions/definition.js';
import type { HeaderLine } from './header-block.js';
import { didYouMean } from '../suggest.js';
import {
  parseInstant,
  unquote,
  csv,
  paramItems,
  datasetList,
  parseKv,
  valueOffset,
  parseCount,
  parseTest,
  parseCheck,
} from './header-values.js';
import type { CheckDecl, ParamType, TaskHeader } from './task.js';

export const HEADER_KEYS = [
  'task',
  'name',
  'description',
  'owner',
  'inputs',
  'outputs',
  'depends_on',
  'tags',
  'schedule',
  'retries',
  'timeout',
  'incremental_by',
  'test',
  'param',
  'asset',
  'asset_kind',
  'asset_group',
  'asset_owner',
  'asset_description',
  'asset_tags',
  'partitions_by',
  'automation',
  'target_lag',
  'freshness',
  'check',
  'check_severity',
  'interval_start',
  'lookback',
  'allow_partials',
] as const;

/** Keys whose value is a list: an empty one is a mistake, not "nothing". */
const LIST_KEYS = new Set(['inputs', 'outputs', 'depends_on', 'tags', 'asset_tags', 'param']);

/** Keys that may appear on several lines; every other key may appear once. */
const REPEATABLE = new Set(['inputs', 'outputs', 'depends_on', 'tags', 'asset_tags', 'test', 'check', 'param']);

const PARAM_ALIASES: Record<string, ParamType> = {
  VARCHAR: 'VARCHAR',
  STRING: 'VARCHAR',
  TEXT: 'VARCHAR',
  INT: 'INTEGER',
  INTEGER: 'INTEGER',
  INT4: 'INTEGER',
  BIGINT: 'BIGINT',
  INT8: 'BIGINT',
  LONG: 'BIGINT',
  DATE: 'DATE',
  TIMESTAMP: 'TIMESTAMP',
  DATETIME: 'TIMESTAMP',
  BOOL: 'BOOLEAN',
  BOOLEAN: 'BOOLEAN',
  DOUBLE: 'DOUBLE',
  FLOAT: 'DOUBLE',
  FLOAT8: 'DOUBLE',
};

export const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export { parseInstant };

export interface HeaderParseResult {
  header: TaskHeader;
  errors: DuckorchError[];
  warnings: DuckorchError[];
}

interface Ctx {
  file: string;
  errors: DuckorchError[];
  warnings: DuckorchError[];
}

/** A token of a `k=v k2="v 2"` list with its offset in the value. */

/** What a task is when nothing declares otherwise: the defaults of every header key. */
export function emptyHeader(): TaskHeader {
  return {
    name: '',
    description: null,
    owner: null,
    tags: [],
    schedule: null,
    retries: 0,
    timeoutSeconds: null,
    incrementalBy: null,
    params: [],
    tests: [],
    asset: null,
    partitions: null,
    automation: null,
    targetLagSeconds: null,
    freshnessLagSeconds: null,
    checks: [],
    checkSeverity: 'error',
    interval: { start: null, startTs: null, lookback: 0, allowPartials: false },
    declaredInputs: [],
    declaredOutputs: null,
    dependsOn: [],
    keyLocations: {},
  };
}

export function parseTaskHeader(headers: HeaderLine[], file: string, defaultName: string | undefined): HeaderParseResult {
  const ctx: Ctx = { file, errors: [], warnings: [] };
  const h = emptyHeader();
  const seen = new Map<string, number>();
  let explicitName: string | undefined;
  const assetFields: Partial<Record<'kind' | 'group' | 'owner' | 'description', string>> = {};
  const assetTags: string[] = [];
  let assetName: string | undefined;
  const inlineSeverity = new Set<CheckDecl>();
  const checkNameCol = new Map<CheckDecl, number>();

  const error = (line: HeaderLine, offset: number, message: string, expected?: string) =>
    ctx.errors.push(
      new DuckorchError('HEADER_VALUE', message, {
        location: { file, line: line.line, col: line.valueCol + offset },
        ...(expected ? { expected } : {}),
      }),
    );

  for (const line of headers) {
    const key = line.key.toLowerCase();
    if (!(HEADER_KEYS as readonly string[]).includes(key)) {
      const hint = line.key === '' ? undefined : didYouMean(key, HEADER_KEYS, (k) => `\`@${k}\``);
      ctx.warnings.push(
        new DuckorchError('HEADER_SYNTAX', `unknown header \`@${line.key}\` is ignored`, {
          location: { file, line: line.line, col: line.keyCol - 1 },
          ...(hint ? { hint } : {}),
        }),
      );
      continue;
    }
    const canonicalKey = key === 'name' ? 'task' : key;
    const first = seen.get(canonicalKey);
    if (first !== undefined && !REPEATABLE.has(canonicalKey)) {
      error(line, 0, `\`@${key}\` is given twice (first on line ${first}); keep one`);
      continue;
    }
    seen.set(canonicalKey, first ?? line.line);
    h.keyLocations[canonicalKey] ??= { line: line.line, col: line.valueCol };
    const v = line.value;
    if (LIST_KEYS.has(key) && csv(v).length === 0) {
      error(
        line,
        0,
        `\`@${key}\` is empty`,
        key === 'param' ? 'name:TYPE, e.g. partition_key:DATE' : 'a comma-separated list; remove the line if there is nothing to list',
      );
      continue;
    }

    switch (key) {
      case 'task':
      case 'name': {
        let name = v;
        let nameOffset = 0;
        if (key === 'task') {
          const kv = parseKv(v);
          const named = kv.find((t) => t.key === 'name') ?? kv.find((t) => t.key === '');
          if (named) {
            name = named.value;
            nameOffset = valueOffset(named);
          } else {
            error(line, 0, '`@task` needs a name', '@task name=<task_name>');
            break;
          }
          for (const t of kv) {
            if (t === named) continue;
            if (t.key !== '') error(line, t.offset, `unknown field \`${t.key}\` in @task`, '@task name=<task_name>');
            else error(line, t.offset, `unexpected \`${t.value}\` after the task name (a name has no spaces)`, '@task name=<task_name>');
          }
        }
        name = unquote(name.trim());
        if (!TASK_NAME.test(name)) {
          error(line, nameOffset, `invalid task name \`${name}\``, 'letters, digits, `_`, `-` and `.`, starting with a letter or `_`');
          break;
        }
        explicitName = name;
        break;
      }
      case 'description':
        h.description = unquote(v) || null;
        break;
      case 'owner':
        h.owner = unquote(v) || null;
        break;
      case 'inputs':
      case 'outputs': {
        const names = datasetList(line, error);
        if (key === 'inputs') h.declaredInputs.push(...names);
        else h.declaredOutputs = [...(h.declaredOutputs ?? []), ...names];
        break;
      }
      case 'depends_on':
        for (const item of csv(v)) {
          if (!TASK_NAME.test(item.text))
            error(line, item.offset, `invalid task name \`${item.text}\` in @depends_on`, 'a comma-separated list of task names');
          else h.dependsOn.push(item.text);
        }
        break;
      case 'tags':
        h.tags.push(...csv(v).map((t) => t.text));
        break;
      case 'asset_tags':
        assetTags.push(...csv(v).map((t) => t.text));
        break;
      case 'schedule': {
        const cron = checkCron(unquote(v));
        if (cron.ok) h.schedule = cron.expr;
        else error(line, 0, cron.message, CRON_FORM);
        break;
      }
      case 'retries': {
        const n = parseCount(v);
        if (n === undefined) error(line, 0, `invalid retries \`${v}\``, 'a whole number of retries, e.g. 3');
        else h.retries = n;
        break;
      }
      case 'timeout': {
        const s = parseDuration(v);
        if (s === undefined || s === 0) error(line, 0, `invalid timeout \`${v}\``, `${DURATION_FORM}, greater than zero`);
        else h.timeoutSeconds = s;
        break;
      }
      case 'incremental_by': {
        const col = unquote(v);
        if (!/^[A-Za-z_][\w$]*$/.test(col))
          error(line, 0, `invalid column \`${v}\` for @incremental_by`, 'one column name, e.g. updated_at');
        else h.incrementalBy = col;
        break;
      }
      case 'test': {
        const test = parseTest(v, h.tests.length + 1, line, error);
        if (test) h.tests.push(test);
        break;
      }
      case 'param':
        for (const item of paramItems(v)) {
          const [rawName = '', rawType, ...extra] = item.text.split(':').map((s) => s.trim());
          const type = rawType === undefined ? undefined : PARAM_ALIASES[rawType.toUpperCase()];
          if (rawType === undefined || extra.length > 0)
            error(line, item.offset, `@param expects \`name:TYPE\`, got \`${item.text}\``, 'name:TYPE, e.g. partition_key:DATE');
          else if (!/^[A-Za-z_]\w*$/.test(rawName))
            error(
              line,
              item.offset,
              rawName === '' ? '@param has an empty name' : `invalid parameter name \`${rawName}\``,
              'name:TYPE, e.g. partition_key:DATE',
            );
          else if (!type)
            error(
              line,
              item.offset + item.text.length - rawType.length,
              `@param ${rawName}: unknown type \`${rawType}\``,
              'VARCHAR, INTEGER, BIGINT, DATE, TIMESTAMP, BOOLEAN or DOUBLE',
            );
          else if (h.params.some((p) => p.name === rawName)) error(line, item.offset, `@param \`${rawName}\` is declared twice`);
          else {
            h.params.push({ name: rawName, type });
            h.keyLocations[`param:${rawName}`] = { line: line.line, col: line.valueCol + item.offset };
          }
        }
        break;
      case 'asset': {
        const kv = parseKv(v);
        const named = kv.find((t) => t.key === 'name') ?? (kv.length === 1 && kv[0]!.key === '' ? kv[0] : undefined);
        // Read as `@outputs` reads a name: quoted parts are identifiers that keep their case and spaces.
        const parsed = named ? parseDatasetName(named.raw) : undefined;
        if (!named || !parsed)
          error(
            line,
            named ? valueOffset(named) : 0,
            `invalid asset name \`${named?.raw ?? v}\``,
            '@asset name=<schema.table> or @asset <schema.table>',
          );
        else assetName = parsed;
        for (const t of kv)
          if (t !== named) error(line, t.offset, `unknown field \`${t.key || t.value}\` in @asset`, '@asset name=<schema.table>');
        break;
      }
      case 'asset_kind':
      case 'asset_group':
      case 'asset_owner':
      case 'asset_description': {
        const value = unquote(v);
        if (value === '') error(line, 0, `\`@${key}\` needs a value`);
        else assetFields[key.slice('asset_'.length) as keyof typeof assetFields] = value;
        break;
      }
      case 'partitions_by': {
        const p = parsePartitions(v);
        if (p.ok) h.partitions = p.value;
        else error(line, p.error.offset, `@partitions_by: ${p.error.message}`, PARTITION_FORM);
        break;
      }
      case 'automation': {
        const c = parseCondition(v);
        if (!c.ok) {
          error(line, c.error.offset, `@automation: ${c.error.message}`, CONDITION_FORM);
          break;
        }
        h.automation = { condition: formatCondition(c.condition), ast: c.condition, intervalUnit: firstIntervalUnit(c.condition) ?? null };
        break;
      }
      case 'target_lag': {
        const s = parseDuration(v);
        if (s === undefined || s === 0) error(line, 0, `@target_lag: invalid duration \`${v}\``, DURATION_FORM);
        else h.targetLagSeconds = s;
        break;
      }
      case 'freshness': {
        // A bare value is one duration, spaces included (`5 minutes`); only `max_lag=` is a field.
        const kv = v.includes('=') ? parseKv(v) : [{ key: '', value: v, raw: v, offset: 0 }];
        const lag = kv.length === 1 && (kv[0]!.key === 'max_lag' || kv[0]!.key === '') ? kv[0]! : undefined;
        const s = lag ? parseDuration(lag.value) : undefined;
        if (!lag || s === undefined || s === 0)
          error(
            line,
            lag ? valueOffset(lag) : 0,
            `@freshness: invalid value \`${v}\``,
            `max_lag=<duration> or <duration>, with ${DURATION_FORM}`,
          );
        else h.freshnessLagSeconds = s;
        break;
      }
      case 'check': {
        const check = parseCheck(v, line, error);
        if (check) {
          h.checks.push(check.decl);
          checkNameCol.set(check.decl, line.valueCol + check.nameOffset);
          if (check.inlineSeverity) inlineSeverity.add(check.decl);
        }
        break;
      }
      case 'check_severity': {
        const s = unquote(v).toLowerCase();
        if (s !== 'error' && s !== 'warn') error(line, 0, `invalid check severity \`${v}\``, 'error or warn');
        else h.checkSeverity = s;
        break;
      }
      case 'interval_start': {
        const ts = parseInstant(unquote(v));
        if (ts === undefined) {
          error(line, 0, `invalid @interval_start \`${v}\``, 'YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or epoch seconds');
          break;
        }
        h.interval.start = new Date(ts * 1000).toISOString().replace('.000Z', 'Z');
        h.interval.startTs = ts;
        break;
      }
      case 'lookback': {
        const n = parseCount(v);
        if (n === undefined) error(line, 0, `invalid @lookback \`${v}\``, 'a whole number of intervals, e.g. 2');
        else h.interval.lookback = n;
        break;
      }
      case 'allow_partials': {
        const s = v.trim().toLowerCase();
        if (s === '' || s === 'true') h.interval.allowPartials = true;
        else if (s === 'false') h.interval.allowPartials = false;
        else error(line, 0, `invalid @allow_partials \`${v}\``, 'no value, true or false');
        break;
      }
    }
  }

  for (const check of h.checks) if (!inlineSeverity.has(check)) check.severity = h.checkSeverity;
  const checkNames = new Set<string>();
  for (const check of h.checks) {
    if (checkNames.has(check.name)) {
      ctx.errors.push(
        new DuckorchError('HEADER_VALUE', `check \`${check.name}\` is declared twice; check names must be unique per task`, {
          location: { file, line: check.line, col: checkNameCol.get(check) ?? 1 },
        }),
      );
    }
    checkNames.add(check.name);
  }
  // @target_lag alone means "keep it fresh": an eager condition throttled by the lag.
  if (h.targetLagSeconds !== null && h.automation === null) {
    h.automation = { condition: 'eager()', ast: { kind: 'atom', name: 'eager' }, intervalUnit: null };
  }
  const hasAssetFields = assetName !== undefined || Object.keys(assetFields).length > 0 || assetTags.length > 0;
  if (hasAssetFields) {
    h.asset = {
      name: assetName ?? '',
      kind: assetFields.kind ?? 'table',
      group: assetFields.group ?? null,
      owner: assetFields.owner ?? null,
      description: assetFields.description ?? null,
      tags: assetTags,
    };
  }
  h.name = explicitName ?? defaultName ?? '';
  if (h.name === '') {
    ctx.errors.push(
      new DuckorchError('HEADER_VALUE', 'task has no name', { location: { file, line: 1, col: 1 }, expected: '-- @task name=<task_name>' }),
    );
  } else if (!explicitName && !TASK_NAME.test(h.name)) {
    ctx.errors.push(
      new DuckorchError('HEADER_VALUE', `the file name \`${h.name}\` is not a valid task name`, {
        location: { file, line: 1, col: 1 },
        hint: 'rename the file or add `-- @task name=<task_name>`',
      }),
    );
  }
  return { header: h, errors: ctx.errors, warnings: ctx.warnings };
}
