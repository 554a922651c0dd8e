/**
 * UTC calendar arithmetic of time partitions: the i-th period from a definition's start, the
 * period a key or an instant falls in, and their keys. Daily, weekly and monthly keys are the
 * period's first day (`YYYY-MM-DD`); hourly keys are `YYYY-MM-DDTHH:00`. Weeks start on Monday.
 */
import { isValidDate, type TimeUnit } from './definition.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STEP: Record<Exclude<TimeUnit, 'monthly'>, number> = { hourly: HOUR, daily: DAY, weekly: 7 * DAY };

/** Milliseconds since the epoch of a canonical key's period start. */
export function keyTime(key: string): number {
  return Date.parse(key.length === 10 ? `${key}T00:00:00Z` : `${key}:00Z`);
}

/** The canonical key of the period that starts at `time`. */
export function timeKey(unit: TimeUnit, time: number): string {
  const iso = new Date(time).toISOString();
  return unit === 'hourly' ? `${iso.slice(0, 13)}:00` : iso.slice(0, 10);
}

/** Start of the period `index` periods after the one starting at `start` (ms). */
export function periodStart(unit: TimeUnit, start: number, index: number): number {
  if (unit !== 'monthly') return start + index * STEP[unit];
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + index, 1);
}

/** How many whole periods lie between the period starting at `start` and `time`, rounded down (negative before it). */
export function periodIndex(unit: TimeUnit, start: number, time: number): number {
  if (unit !== 'monthly') return Math.floor((time - start) / STEP[unit]);
  const a = new Date(start);
  const b = new Date(time);
  const months = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + (b.getUTCMonth() - a.getUTCMonth());
  // `time` before the start of its month's period would be impossible: periods start on the 1st.
  return months;
}

/**
 * The key of the period a user's text names, or why it names none. A day names its own period
 * in every unit coarser than an hour when `loose` (a range's bound); otherwise it must be the
 * period's first day. In an hourly space a day alone is its first hour (`end` of a range: its last).
 */
export function readTimeKey(
  unit: TimeUnit,
  text: string,
  options: { loose?: boolean; isEnd?: boolean } = {},
): string | { message: string } {
  const value = text.trim();
  if (unit === 'hourly') {
    if (isValidDate(value)) return `${value}T${options.isEnd ? '23' : '00'}:00`;
    const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2})(?::(\d{2}))?(?::00)?Z?$/.exec(value);
    if (!m || !isValidDate(m[1]!) || Number(m[2]) > 23) return { message: `\`${text}\` is not an hour (expected YYYY-MM-DDTHH:00)` };
    if (m[3] !== undefined && m[3] !== '00' && !options.loose)
      return { message: `\`${text}\` is not the start of an hour (expected YYYY-MM-DDTHH:00)` };
    return `${m[1]}T${m[2]}:00`;
  }
  const day = unit === 'monthly' && /^\d{4}-\d{2}$/.test(value) ? `${value}-01` : value;
  if (!isValidDate(day))
    return { message: `\`${text}\` is not a date (expected ${unit === 'monthly' ? 'YYYY-MM or YYYY-MM-DD' : 'YYYY-MM-DD'})` };
  const t = keyTime(day);
  const d = new Date(t);
  const first =
    unit === 'daily' ? t : unit === 'weekly' ? t - ((d.getUTCDay() + 6) % 7) * DAY : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  if (first !== t && !options.loose) {
    const key = timeKey(unit, first);
    return {
      message:
        unit === 'weekly'
          ? `${day} is not a Monday: weeks run Monday to Sunday (UTC); it is in the week ${key}`
          : `${day} is not the first day of a month; it is in the month ${key.slice(0, 7)} (key ${key})`,
    };
  }
  return timeKey(unit, first);
}
