import { describe, expect, it } from 'vitest';
import type { LineageEdge } from '../../../src/model/graph/dag.js';
import { walkLineage } from '../../../src/model/graph/lineage.js';

//  raw.a ─┐            ┌─> mart.x ─> file:x.csv
//         ├─(stage)─> stage.s
//  raw.b ─┘            └─> mart.y
//  raw.a ───(direct)──> mart.y
const EDGES: LineageEdge[] = [
  { src: 'raw.a', dst: 'stage.s', via: 'stage' },
  { src: 'raw.b', dst: 'stage.s', via: 'stage' },
  { src: 'stage.s', dst: 'mart.y', via: 'mart_y' },
  { src: 'stage.s', dst: 'mart.x', via: 'mart_x' },
  { src: 'raw.a', dst: 'mart.y', via: 'direct' },
  { src: 'mart.x', dst: 'file:x.csv', via: 'export' },
];

describe('walkLineage', () => {
  it('walks downstream breadth first with hop counts, shortest path wins', () => {
    expect(walkLineage(EDGES, 'raw.a', 'down')).toEqual([
      { table_name: 'mart.y', via_task: 'direct', depth: 1 },
      { table_name: 'stage.s', via_task: 'stage', depth: 1 },
      { table_name: 'mart.x', via_task: 'mart_x', depth: 2 },
      { table_name: 'file:x.csv', via_task: 'export', depth: 3 },
    ]);
  });

  it('walks upstream', () => {
    expect(walkLineage(EDGES, 'file:x.csv', 'up')).toEqual([
      { table_name: 'mart.x', via_task: 'export', depth: 1 },
      { table_name: 'stage.s', via_task: 'mart_x', depth: 2 },
      { table_name: 'raw.a', via_task: 'stage', depth: 3 },
      { table_name: 'raw.b', via_task: 'stage', depth: 3 },
    ]);
    expect(walkLineage(EDGES, 'mart.y', 'up')).toEqual([
      { table_name: 'raw.a', via_task: 'direct', depth: 1 },
      { table_name: 'stage.s', via_task: 'mart_y', depth: 1 },
      { table_name: 'raw.b', via_task: 'stage', depth: 2 },
    ]);
  });

  it('returns nothing for a leaf or an unknown table', () => {
    expect(walkLineage(EDGES, 'file:x.csv', 'down')).toEqual([]);
    expect(walkLineage(EDGES, 'raw.a', 'up')).toEqual([]);
    expect(walkLineage(EDGES, 'nope', 'down')).toEqual([]);
  });

  it('never revisits a table, even around a cycle, and never lists the start', () => {
    const cyclic: LineageEdge[] = [
      { src: 'a', dst: 'b', via: 't1' },
      { src: 'b', dst: 'a', via: 't2' },
      { src: 'b', dst: 'c', via: 't3' },
    ];
    expect(walkLineage(cyclic, 'a', 'down')).toEqual([
      { table_name: 'b', via_task: 't1', depth: 1 },
      { table_name: 'c', via_task: 't3', depth: 2 },
    ]);
  });

  it('is independent of the order of the edges', () => {
    const reversed = [...EDGES].reverse();
    expect(walkLineage(reversed, 'raw.a', 'down')).toEqual(walkLineage(EDGES, 'raw.a', 'down'));
    expect(walkLineage(reversed, 'file:x.csv', 'up')).toEqual(walkLineage(EDGES, 'file:x.csv', 'up'));
  });
});
