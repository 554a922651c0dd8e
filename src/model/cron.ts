import { Cron } from 'croner';

export const CRON_FORM = 'a cron expression such as "0 6 * * *" (5 fields, or 6 with seconds first, or @daily/@hourly)';

/** Returns the normalised expression, or an error message naming what croner rejected. */
export function checkCron(expr: string): { ok: true; expr: string } | { ok: false; message: string } {
  const normalised = expr.trim().replace(/\s+/g, ' ');
  if (normalised === '') return { ok: false, message: 'empty cron expression' };
  try {
    new Cron(normalised, { paused: true, timezone: 'UTC' });
    return { ok: true, expr: normalised };
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    return { ok: false, message: `invalid cron expression "${normalised}": ${reason}` };
  }
}

/** First tick strictly after `after`, in UTC. Pure: the reference time is an argument. */
export function nextCronTick(expr: string, after: Date): Date | undefined {
  return new Cron(expr, { paused: true, timezone: 'UTC' }).nextRun(after) ?? undefined;
}
