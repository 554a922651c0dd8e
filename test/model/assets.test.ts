import { describe, expect, it } from 'vitest';
import { assetsOf, deriveAssets, primaryAsset } from '../../src/model/assets.js';
import { makeTask } from './make-task.js';

describe('assetsOf', () => {
  it('is the declared asset, or every output, primary first', () => {
    expect(assetsOf(makeTask('SELECT 1', { writes: ['b', 'a'] }))).toEqual(['b', 'a']);
    expect(assetsOf(makeTask('-- @asset a\nSELECT 1', { writes: ['b', 'a'] }))).toEqual(['a']);
    expect(assetsOf(makeTask('SELECT 1'))).toEqual([]);
  });
});

describe('deriveAssets', () => {
  it('without @asset, every output is an asset and the first is primary', () => {
    const task = makeTask(
      [
        '-- @owner team',
        '-- @description Loads',
        '-- @tags daily',
        '-- @target_lag 10m',
        '-- @check name=c "SELECT 1" expect 1',
        'SELECT 1',
      ].join('\n'),
      { reads: ['raw.a'], writes: ['stg.a', 'file:out/a.csv'] },
    );
    expect(primaryAsset(task)).toBe('stg.a');
    const { assets, checks } = deriveAssets([task]);
    expect(
      assets.map((a) => [a.name, a.kind, a.owner, a.description, a.tags, a.automationCondition, a.targetLagSeconds, a.lookback]),
    ).toEqual([
      ['stg.a', 'table', 'team', 'Loads', ['daily'], 'eager()', 600, 0],
      ['file:out/a.csv', 'file', 'team', 'Loads', ['daily'], null, null, null],
    ]);
    expect(assets.every((a) => a.definedByTask === 't' && a.codeVersion === task.codeVersion)).toBe(true);
    expect(checks).toEqual([{ asset: 'stg.a', name: 'c', sql: 'SELECT 1', op: 'eq', value: '1', severity: 'error' }]);
  });

  it('with @asset, there is one asset carrying the declared metadata', () => {
    const task = makeTask(
      [
        '-- @asset name=m.x',
        '-- @asset_kind view',
        '-- @asset_group g',
        '-- @asset_owner o',
        '-- @asset_tags t1',
        '-- @owner task_owner',
        '-- @tags task_tag',
        'SELECT 1',
      ].join('\n'),
      { writes: ['m.x', 'm.tmp'] },
    );
    const { assets } = deriveAssets([task]);
    expect(assets).toHaveLength(1);
    expect(assets[0]).toMatchObject({ name: 'm.x', kind: 'view', group: 'g', owner: 'o', description: null, tags: ['t1'] });
  });

  it('asset metadata falls back to the task when the asset gives none', () => {
    const task = makeTask(['-- @asset m.x', '-- @owner task_owner', '-- @tags task_tag', 'SELECT 1'].join('\n'), { writes: ['m.x'] });
    expect(deriveAssets([task]).assets[0]).toMatchObject({ owner: 'task_owner', tags: ['task_tag'] });
  });

  it('joins each input asset to each output asset of a task with declared edges', () => {
    const a = makeTask('SELECT 1', { writes: ['s.a'] });
    const b = makeTask('-- @task name=b\nSELECT 1', { reads: ['s.a', 'external'], writes: ['s.b', 's.c'] });
    const { edges } = deriveAssets([a, b]);
    expect(edges).toEqual([
      { upstream: 's.a', downstream: 's.b', viaTask: 'b', edgeType: 'declared' },
      { upstream: 's.a', downstream: 's.c', viaTask: 'b', edgeType: 'declared' },
    ]);
  });

  it('a task with no outputs defines no asset and carries no checks', () => {
    const task = makeTask('-- @check name=c "SELECT 1" expect 1\nSELECT 1');
    expect(primaryAsset(task)).toBeUndefined();
    expect(deriveAssets([task])).toEqual({ assets: [], edges: [], checks: [] });
  });
});

describe('deriveAssets: @test assertions become checks', () => {
  it('promotes numeric @test assertions to checks test_<i> of the primary asset', () => {
    const t = makeTask(
      [
        '-- @test "SELECT count(*) FROM a WHERE x < 0" expect 0',
        '-- @test "SELECT * FROM a" expect_non_empty',
        '-- @test "SELECT count(*) FROM a" expect_gt 10',
        '-- @test "SELECT max(x) FROM a" expect_lt 5',
        'CREATE TABLE a AS SELECT 1 AS x',
      ].join('\n'),
      { writes: ['a'] },
    );
    expect(deriveAssets([t]).checks).toEqual([
      { asset: 'a', name: 'test_1', sql: 'SELECT count(*) FROM a WHERE x < 0', op: 'eq', value: '0', severity: 'error' },
      { asset: 'a', name: 'test_3', sql: 'SELECT count(*) FROM a', op: 'gt', value: '10', severity: 'error' },
      { asset: 'a', name: 'test_4', sql: 'SELECT max(x) FROM a', op: 'lt', value: '5', severity: 'error' },
    ]);
  });
});
