/**
 * Turns header lines into a `TaskHeader`, collecting every error and warning with its
 * `file:line:col` instead of stopping at the first (spec §1, with its gaps fixed).
 */
import { DuckorchError } from '../../errors.js';
import { CONDITION_FORM, firstIntervalUnit, formatCondition, parseCondition } from '../automation/condition.js';
import { CRON_FORM, checkCron } from '../cron.js';
import { DURATION_FORM, parseDuration } from '../duration.js';
import { parseDatasetName } from '../names.js';
import { PARTITION_FORM, parsePartitions } from '../partitions.js';
import type { HeaderLine } from './header-block.js';
import { splitQuotedSql } from './quoted.js';
import { didYouMean } from '../suggest.js';
import type { CheckDecl, CheckOp, ParamType, TaskHeader, TaskTest, TestAssertion } from './task.js';

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
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

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
interface KvToken {
  key: string;
  /** The value without its surrounding double quotes. */
  value: string;
  /** The value as written: a dataset name keeps its quoted parts (`"Bike Mart"."station leaderboard"`). */
  raw: string;
  offset: number;
}

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
          else h.params.push({ name: rawName, type });
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

type ErrorFn = (line: HeaderLine, offset: number, message: string, expected?: string) => void;

function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) return t.slice(1, -1);
  return t;
}

function csv(text: string): Array<{ text: string; offset: number }> {
  const out: Array<{ text: string; offset: number }> = [];
  let start = 0;
  for (const piece of text.split(',')) {
    const lead = piece.length - piece.trimStart().length;
    const t = piece.trim();
    if (t !== '') out.push({ text: t, offset: start + lead });
    start += piece.length + 1;
  }
  return out;
}

/** `a:DATE, b:INT` or `a:DATE b:INT`. */
function paramItems(text: string): Array<{ text: string; offset: number }> {
  return [...text.matchAll(/[^,\s:]+\s*:\s*[^,\s]*|[^,\s]+/g)].map((m) => ({ text: m[0], offset: m.index }));
}

function datasetList(line: HeaderLine, error: ErrorFn): string[] {
  const out: string[] = [];
  for (const item of csv(line.value)) {
    const name = parseDatasetName(item.text);
    if (name) out.push(name);
    else
      error(
        line,
        item.offset,
        `invalid dataset name \`${item.text}\` in @${line.key}`,
        'a comma-separated list such as analytics.users, raw.events or file:data/x.csv',
      );
  }
  return out;
}

/**
 * `k=v` tokens separated by whitespace; a value may be double-quoted, wholly or in parts
 * (`"Bike Mart"."station leaderboard"`), to contain spaces.
 */
function parseKv(text: string): KvToken[] {
  const out: KvToken[] = [];
  // An unclosed quote runs to the end, so that the whole value is reported rather than its pieces.
  const re = /\s*(?:([A-Za-z_]\w*)=)?((?:"(?:[^"]|"")*(?:"|$)|[^\s"])+)/y;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) && m[0] !== '') {
    const raw = m[2]!;
    out.push({ key: m[1] ?? '', value: unquote(raw), raw, offset: m.index + m[0].length - m[0].trimStart().length });
  }
  return out;
}

/** Offset of a token's value, past its `key=`. */
function valueOffset(t: KvToken): number {
  return t.key === '' ? t.offset : t.offset + t.key.length + 1;
}

function parseCount(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) && n <= 0xffffffff ? n : undefined;
}

/** `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (space or `T`, UTC, optional `Z`), or epoch seconds. */
export function parseInstant(text: string): number | undefined {
  // Epoch seconds, up to the last instant a JavaScript Date can represent.
  if (/^\d+$/.test(text)) return Number(text) <= 8.64e12 ? Number(text) : undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?Z?)?$/.exec(text);
  if (!m) return undefined;
  const iso = `${m[1]}T${m[2] ?? '00'}:${m[3] ?? '00'}:${m[4] ?? '00'}Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== iso.slice(0, 19)) return undefined;
  return ms / 1000;
}

const TEST_FORM = '"SQL" followed by expect_empty, expect_non_empty, expect N, expect_gt N or expect_lt N';

function parseTest(value: string, index: number, line: HeaderLine, error: ErrorFn): TaskTest | undefined {
  const q = splitQuotedSql(value, '@test');
  if (!q.ok) {
    error(line, q.offset, q.message, TEST_FORM);
    return undefined;
  }
  const { sql, sqlOffset, rest, restOffset } = q.value;
  const [verb = '', arg, ...extra] = rest.split(/\s+/).filter((s) => s !== '');
  let assertion: TestAssertion | undefined;
  if ((verb === 'expect_empty' || verb === 'expect_non_empty') && arg === undefined) assertion = { kind: verb };
  else if (
    (verb === 'expect' || verb === 'expect_gt' || verb === 'expect_lt') &&
    arg !== undefined &&
    NUMBER.test(arg) &&
    extra.length === 0
  ) {
    assertion = { kind: verb, value: Number(arg) };
  } else if (verb === 'expect_eq' && arg !== undefined && NUMBER.test(arg) && extra.length === 0) {
    assertion = { kind: 'expect', value: Number(arg) };
  }
  if (!assertion) {
    error(line, restOffset, rest === '' ? '@test is missing its assertion' : `invalid @test assertion \`${rest}\``, TEST_FORM);
    return undefined;
  }
  return { index, sql, assertion, assertionText: rest, line: line.line, col: line.valueCol + sqlOffset };
}

const CHECK_FORM = 'name=<check> "SQL" expect eq|ne|gt|ge|lt|le <value>, expect between <lo>,<hi>, or expect_not_null';

function parseCheck(
  value: string,
  line: HeaderLine,
  error: ErrorFn,
): { decl: CheckDecl; inlineSeverity: boolean; nameOffset: number } | undefined {
  // The SQL opens at the first `"` that does not open a `key="…"` field value.
  const headEnd = /^(?:\s*[A-Za-z_]\w*=(?:"[^"]*"|[^\s"]+))*/.exec(value)![0].length;
  const quote = value.indexOf('"', headEnd);
  const head = quote < 0 ? value : value.slice(0, quote);
  const fields = parseKv(head);
  const nameField = fields.find((f) => f.key === 'name');
  // `name=` followed by a space reads as a bare `name=` token: the name is there, but empty.
  const emptyName = fields.find((f) => f.key === '' && f.value === 'name=');
  if (!nameField && emptyName) {
    error(line, emptyName.offset + 'name='.length, '@check has an empty name', CHECK_FORM);
    return undefined;
  }
  if (!nameField) {
    error(line, 0, '@check is missing `name=`', CHECK_FORM);
    return undefined;
  }
  if (!/^[A-Za-z_][\w-]*$/.test(nameField.value)) {
    error(
      line,
      valueOffset(nameField),
      nameField.value === '' ? '@check has an empty name' : `invalid check name \`${nameField.value}\``,
      CHECK_FORM,
    );
    return undefined;
  }
  let severity: 'error' | 'warn' | undefined;
  for (const f of fields) {
    if (f === nameField) continue;
    if (f.key === 'severity' && (f.value === 'error' || f.value === 'warn')) severity = f.value;
    else {
      error(line, f.offset, `unexpected \`${f.key ? `${f.key}=${f.value}` : f.value}\` in @check`, CHECK_FORM);
      return undefined;
    }
  }
  const q = splitQuotedSql(value.slice(quote < 0 ? value.length : quote), '@check');
  const base = quote < 0 ? value.length : quote;
  if (!q.ok) {
    error(line, base + q.offset, q.message, CHECK_FORM);
    return undefined;
  }
  const { sql, sqlOffset, rest, restOffset } = q.value;
  const at = base + restOffset;
  const m = /^(\S+)\s*(\S*)\s*(.*)$/.exec(rest);
  const verb = m?.[1] ?? '';
  let op: CheckOp | undefined;
  let v: string | null = null;
  if (verb === 'expect_not_null' && !m?.[2]) op = 'not_null';
  else if (verb === 'expect') {
    const word = m?.[2] ?? '';
    const tail = (m?.[3] ?? '').trim();
    if (word === '') {
      error(line, at, '@check is missing the value after `expect`', CHECK_FORM);
      return undefined;
    }
    if (word === 'between') {
      const bounds = tail.split(',').map((s) => s.trim());
      if (bounds.length !== 2 || !bounds.every((b) => NUMBER.test(b)) || Number(bounds[0]) > Number(bounds[1])) {
        error(line, at, `invalid bounds \`${tail}\` for between`, 'expect between <lo>,<hi> with numbers lo <= hi');
        return undefined;
      }
      op = 'between';
      v = `${Number(bounds[0])},${Number(bounds[1])}`;
    } else if ((['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const).includes(word as 'eq')) {
      if (tail === '') {
        error(line, at, `@check is missing the value after \`expect ${word}\``, CHECK_FORM);
        return undefined;
      }
      if (word !== 'eq' && word !== 'ne' && !NUMBER.test(tail)) {
        error(line, at, `\`expect ${word}\` needs a number, got \`${tail}\``, CHECK_FORM);
        return undefined;
      }
      op = word as CheckOp;
      v = unquote(tail);
    } else if (tail === '') {
      // `expect 0` reads as "expect eq 0" (the original rejected it although its docs used it).
      op = 'eq';
      v = unquote(word);
    } else {
      error(line, at, `unknown op \`${word}\` (expected eq|ne|gt|ge|lt|le|between)`, CHECK_FORM);
      return undefined;
    }
  } else {
    error(line, at, rest === '' ? '@check is missing its expectation' : `invalid @check expectation \`${rest}\``, CHECK_FORM);
    return undefined;
  }
  return {
    decl: {
      name: nameField.value,
      sql,
      op,
      value: v,
      severity: severity ?? 'error',
      line: line.line,
      col: line.valueCol + base + sqlOffset,
    },
    inlineSeverity: severity !== undefined,
    nameOffset: valueOffset(nameField),
  };
}
