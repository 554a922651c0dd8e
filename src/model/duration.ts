/**
 * Durations as users write them in headers and config: `300`, `30s`, `5 minutes`, `1.5h`,
 * `2d`, `1w`, and compounds such as `1h30m`. The original grammar rejected `mins`, `hr` and
 * weeks; this one accepts the spellings people actually type.
 */

const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  msec: 0.001,
  msecs: 0.001,
  millisecond: 0.001,
  milliseconds: 0.001,
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
  d: 86400,
  day: 86400,
  days: 86400,
  w: 604800,
  wk: 604800,
  wks: 604800,
  week: 604800,
  weeks: 604800,
};

export const DURATION_FORM = 'a duration such as 300, 30s, 5min, 1.5h, 2d, 1w or 1h30m';

const PART = /(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*/y;

/**
 * Parses a duration into whole seconds (half-up, and at least 1 for any positive value).
 * Returns `undefined` when the text is not a duration, so callers can report it with their
 * own location.
 */
export function parseDuration(text: string): number | undefined {
  const exact = parseDurationExact(text);
  if (exact === undefined || exact === 0) return exact;
  return Math.max(1, Math.floor(exact + 0.5));
}

/** Like `parseDuration`, but keeps fractions of a second (for settings such as retry delays). */
export function parseDurationExact(text: string): number | undefined {
  const src = text
    .trim()
    .toLowerCase()
    .replace(/^["']|["']$/g, '');
  if (src === '') return undefined;
  let total = 0;
  let pos = 0;
  let parts = 0;
  while (pos < src.length) {
    PART.lastIndex = pos;
    const m = PART.exec(src);
    if (!m) return undefined;
    const [, num, unit = ''] = m;
    const factor = unit === '' ? 1 : UNIT_SECONDS[unit];
    if (factor === undefined) return undefined;
    // A bare number is only valid alone: `1h30` is ambiguous, so it is rejected.
    if (unit === '' && (parts > 0 || m.index + m[0].length < src.length)) return undefined;
    total += Number(num) * factor;
    pos = m.index + m[0].length;
    parts += 1;
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Renders seconds back into the shortest readable form (`90` → `1m30s`). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const units: Array<[string, number]> = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = seconds;
  let out = '';
  for (const [u, n] of units) {
    const q = Math.floor(rest / n);
    if (q > 0) {
      out += `${q}${u}`;
      rest -= q * n;
    }
  }
  return out;
}
