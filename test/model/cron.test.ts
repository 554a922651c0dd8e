import { describe, expect, it } from 'vitest';
import { checkCron, nextCronTick } from '../../src/model/cron.js';

describe('checkCron', () => {
  it.each([
    ['0 6 * * *', '0 6 * * *'],
    ['  0   6  * * *  ', '0 6 * * *'],
    ['0\t6 * * *', '0 6 * * *'],
    ['0 0 6 * * *', '0 0 6 * * *'],
    ['*/15 * * * 1-5', '*/15 * * * 1-5'],
    ['@daily', '@daily'],
    ['@hourly', '@hourly'],
  ])('accepts %j as %j', (text, expr) => {
    expect(checkCron(text)).toEqual({ ok: true, expr });
  });

  it('rejects an empty expression', () => {
    expect(checkCron('   ')).toEqual({ ok: false, message: 'empty cron expression' });
  });

  it.each(['61 * * * *', '* 25 * * *', 'every day', '* * *', '0 6 * * * * * *', '0 6 32 * *'])('rejects %j, quoting it', (text) => {
    const r = checkCron(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message.startsWith(`invalid cron expression "${text.trim().replace(/\s+/g, ' ')}": `)).toBe(true);
  });
});

describe('nextCronTick', () => {
  it('returns the first tick strictly after the reference time, in UTC', () => {
    expect(nextCronTick('0 6 * * *', new Date('2024-01-01T05:59:59Z'))?.toISOString()).toBe('2024-01-01T06:00:00.000Z');
    expect(nextCronTick('0 6 * * *', new Date('2024-01-01T06:00:00Z'))?.toISOString()).toBe('2024-01-02T06:00:00.000Z');
    expect(nextCronTick('*/15 * * * *', new Date('2024-01-01T00:07:00Z'))?.toISOString()).toBe('2024-01-01T00:15:00.000Z');
  });

  it('returns undefined when there is no future tick', () => {
    expect(nextCronTick('0 0 30 2 *', new Date('2024-01-01T00:00:00Z'))).toBeUndefined();
  });
});
