/**
 * Interval units for `on_interval("…")` (spec §4): `daily`/`1d`, `hourly`/`1h`, `Nd`, `Nh`,
 * `Nmin`. One unit is a fixed number of minutes; the canonical spellings are `daily`,
 * `hourly`, `Xd`, `Xh` and `Xmin`, so `60m` is written `hourly` and `120m` is written `2h`.
 */
export interface IntervalUnit {
  minutes: number;
  canonical: string;
}

export const INTERVAL_UNIT_FORM = 'an interval unit such as daily, hourly, 2h, 3d or 15min';

const UNIT = /^(\d+)\s*(d|days?|h|hours?|hrs?|m|mins?|minutes?)$/;

export function parseIntervalUnit(text: string): IntervalUnit | undefined {
  const src = text.trim().toLowerCase();
  if (src === 'daily') return unitOf(1440);
  if (src === 'hourly') return unitOf(60);
  const m = UNIT.exec(src);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n) || n <= 0) return undefined;
  const letter = m[2]![0];
  const minutes = letter === 'd' ? n * 1440 : letter === 'h' ? n * 60 : n;
  return unitOf(minutes);
}

function unitOf(minutes: number): IntervalUnit {
  let canonical: string;
  if (minutes === 1440) canonical = 'daily';
  else if (minutes === 60) canonical = 'hourly';
  else if (minutes % 1440 === 0) canonical = `${minutes / 1440}d`;
  else if (minutes % 60 === 0) canonical = `${minutes / 60}h`;
  else canonical = `${minutes}min`;
  return { minutes, canonical };
}
