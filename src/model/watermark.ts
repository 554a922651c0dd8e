/**
 * Where an `@incremental_by` load starts when nothing was recorded (a first run, `--full-refresh`,
 * the target emptied): the smallest value of the column's type, so that the natural
 * `col > {{ last_processed_at }}` takes every row — also ids ≤ 0 and dates before 1970.
 */

/** The first watermark when the column's type is not known: the timestamp's minimum. */
export const DEFAULT_WATERMARK = '-infinity';

const SIGNED_MIN: Readonly<Record<string, string>> = {
  TINYINT: '-128',
  SMALLINT: '-32768',
  INTEGER: '-2147483648',
  BIGINT: '-9223372036854775808',
  HUGEINT: '-170141183460469231731687303715884105728',
};

/** The smallest value of a DuckDB column type, as `{{ last_processed_at }}` inserts it. */
export function startOfType(type: string | undefined): string {
  const t = (type ?? '').toUpperCase().trim();
  const signed = SIGNED_MIN[t];
  if (signed !== undefined) return signed;
  if (/^U(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(t)) return '0';
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) {
    const [width, scale] = [Number(decimal[1]), Number(decimal[2])];
    const whole = width - scale > 0 ? '9'.repeat(width - scale) : '0';
    return `-${whole}${scale > 0 ? `.${'9'.repeat(scale)}` : ''}`;
  }
  // No smallest value: a number below any a table is likely to hold.
  if (t === 'VARINT' || t === 'BIGNUM') return '-1e308';
  if (t === 'FLOAT' || t === 'DOUBLE' || t === 'REAL' || t === 'DATE' || t.startsWith('TIMESTAMP')) return '-infinity';
  if (t.startsWith('TIME')) return '00:00:00';
  if (t === 'VARCHAR') return '';
  if (t === 'UUID') return '00000000-0000-0000-0000-000000000000';
  if (t === 'BOOLEAN') return 'false';
  return DEFAULT_WATERMARK;
}
