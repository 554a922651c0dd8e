import { describe, expect, it } from 'vitest';
import { didYouMean, suggest } from '../../src/model/suggest.js';

describe('suggest', () => {
  it.each<[string, string[], string | undefined]>([
    ['dependson', ['depends_on', 'description', 'tags'], 'depends_on'],
    ['retrys', ['retries', 'timeout'], 'retries'],
    ['last_processed', ['last_processed_at', 'now', 'run_id'], 'last_processed_at'],
    ['STG_ORDERS', ['stg_orders', 'stg_order_items'], 'stg_orders'],
    // Unrelated names are not suggestions.
    ['nosuch', ['anomalies', 'daily'], undefined],
    ['nonexistent_task', ['a', 'b'], undefined],
    ['retry', ['retries', 'timeout'], 'retries'],
    ['x', ['y'], undefined],
    ['ab', ['xy'], undefined],
    ['anything', [], undefined],
  ])('%s among %j → %s', (name, candidates, expected) => {
    expect(suggest(name, candidates)).toBe(expected);
  });

  it('formats the hint', () => {
    expect(didYouMean('retrys', ['retries'], (k) => `\`@${k}\``)).toBe('did you mean `@retries`?');
    expect(didYouMean('zzz', ['retries'])).toBeUndefined();
  });
});
