/** The partition calendar as `asset partitions` prints it. */
import { describe, expect, it } from 'vitest';
import { parsePartitions } from '../../src/model/partitions/definition.js';
import { partitionSpace } from '../../src/model/partitions/space.js';
import { partitionCalendar } from '../../src/interfaces/cli/asset-render.js';

const AT = new Date('2026-12-03T12:00:00Z');

function calendar(definition: string): string {
  const parsed = parsePartitions(definition);
  if (!parsed.ok) throw new Error(parsed.error.message);
  const total = partitionSpace(parsed.value).size(AT);
  return partitionCalendar({
    asset: 'ev',
    definition: parsed.value,
    description: '',
    at: AT,
    total,
    ranges: { succeeded: [[0, 2]], running: [], failed: [], missing: [[2, total]] },
  });
}

describe('partition calendar', () => {
  it('groups a multi partition by its period, whichever dimension name sorts first', () => {
    const lines = calendar("multi(Region=static('north pole', plain), day=daily(start=2026-12-01))").split('\n');
    // Two periods (Dec 1 and 2) of two regions: one heading per period, not per key.
    expect(lines.filter((l) => /^ {2}day=/.test(l))).toEqual(['  day=2026-12-01', '  day=2026-12-02']);
    expect(lines.filter((l) => /^ {4}/.test(l))).toHaveLength(4);
  });

  it('groups a multi partition without time by its first static dimension', () => {
    const lines = calendar('multi(a=static(x, y), b=static(p, q))').split('\n');
    expect(lines.filter((l) => /^ {2}a=/.test(l))).toEqual(['  a=x', '  a=y']);
  });
});
