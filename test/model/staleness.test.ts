import { describe, expect, it } from 'vitest';
import { parsePartitions, type PartitionDef } from '../../src/model/partitions/definition.js';
import { PartitionSpace } from '../../src/model/partitions/space.js';
import { staleAssets, type LatestState, type StalenessAsset } from '../../src/model/staleness.js';

const NOW = new Date('2026-01-06T12:00:00Z');
const at = (h: number) => new Date(Date.UTC(2026, 0, 6, h));

function asset(name: string, upstream: string[] = [], partitions?: string, codeVersion = 'v1'): StalenessAsset {
  const def = partitions ? (parsePartitions(partitions) as { ok: true; value: PartitionDef }).value : null;
  return { name, codeVersion, upstream, partitions: def ? new PartitionSpace(def) : null, partitionsKey: partitions ?? null };
}

const ok = (h: number, key = '__default__', codeVersion = 'v1'): LatestState => ({
  partitionKey: key,
  status: 'succeeded',
  lastSuccessAt: at(h),
  codeVersion,
});

describe('staleAssets', () => {
  it('nothing is stale when everything succeeded after its upstream, with its current code', () => {
    const assets = [asset('a'), asset('b', ['a'])];
    expect(
      staleAssets(
        assets,
        new Map([
          ['a', [ok(1)]],
          ['b', [ok(2)]],
        ]),
        NOW,
      ),
    ).toEqual([]);
  });

  it('never materialised, failed, code changed, upstream newer; downstream of a stale asset is stale too', () => {
    const assets = [asset('a', [], undefined, 'v2'), asset('b', ['a']), asset('c', ['b']), asset('d'), asset('e'), asset('f', ['e'])];
    const states = new Map<string, LatestState[]>([
      ['a', [ok(1)]], // code v1, now v2
      ['b', [ok(2)]],
      ['c', [ok(3)]],
      ['d', [{ partitionKey: '__default__', status: 'dead', lastSuccessAt: at(1), codeVersion: 'v1' }]],
      ['e', [ok(5)]],
      ['f', [ok(4)]], // before e
    ]);
    const stale = staleAssets(assets, states, NOW);
    expect(stale.map((s) => [s.name, s.reasons.map((r) => r.kind), s.downstream])).toEqual([
      ['a', ['code_changed'], ['b', 'c']],
      ['b', ['upstream_stale'], []],
      ['c', ['upstream_stale'], []],
      ['d', ['failed'], []],
      ['f', ['upstream_newer'], []],
    ]);
    expect(staleAssets([asset('x')], new Map(), NOW)).toMatchObject([{ name: 'x', reasons: [{ kind: 'never_materialized' }] }]);
  });

  it('partitions: missing ones by arithmetic, the same key of a partitioned upstream, every key under a stale unpartitioned upstream', () => {
    const daily = 'daily(start=2026-01-01)'; // 5 partitions exist at NOW
    const assets = [asset('up', [], daily), asset('down', ['up'], daily)];
    const states = new Map<string, LatestState[]>([
      ['up', [ok(1, '2026-01-01'), ok(9, '2026-01-02'), ok(1, '2026-01-03')]],
      ['down', [ok(2, '2026-01-01'), ok(2, '2026-01-02'), ok(2, '2026-01-03'), ok(2, '2026-01-04', 'v0')]],
    ]);
    const [up, down] = staleAssets(assets, states, NOW);
    expect(up!.partitions!.stale.size).toBe(2); // 01-04, 01-05 never
    expect(up!.partitions!.counts).toEqual({ never_materialized: 2 });
    // 01-02: up is newer; 01-04: code changed and up is stale there; 01-05: never.
    const keys = [...down!.partitions!.stale.indices()].map((i) => assets[1]!.partitions!.keyAt(i));
    expect(keys).toEqual(['2026-01-02', '2026-01-04', '2026-01-05']);
    expect(down!.reasons.map((r) => r.kind).sort()).toEqual(['code_changed', 'never_materialized', 'upstream_newer', 'upstream_stale']);

    const mixed = [asset('raw', [], undefined, 'v2'), asset('p', ['raw'], daily)];
    const all = staleAssets(
      mixed,
      new Map([
        ['raw', [ok(1)]],
        ['p', [1, 2, 3, 4, 5].map((d) => ok(2, `2026-01-0${d}`))],
      ]),
      NOW,
    );
    expect(all.map((s) => [s.name, s.partitions?.stale.size ?? null])).toEqual([
      ['raw', null],
      ['p', 5],
    ]);
  });
});
