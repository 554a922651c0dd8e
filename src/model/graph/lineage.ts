/**
 * Dataset-level walks over lineage edges: `impact` (what is built from a table, downstream)
 * and `lineage` (what a table is built from, upstream), breadth first with the hop count.
 */
import { compareText } from '../names.js';
import type { LineageEdge } from './dag.js';

export interface LineageHop {
  table_name: string;
  via_task: string;
  depth: number;
}

export function walkLineage(edges: readonly LineageEdge[], start: string, direction: 'up' | 'down'): LineageHop[] {
  const next = new Map<string, LineageEdge[]>();
  for (const e of edges) {
    const key = direction === 'down' ? e.src : e.dst;
    const list = next.get(key) ?? [];
    list.push(e);
    next.set(key, list);
  }
  const out: LineageHop[] = [];
  const seen = new Set<string>([start]);
  let frontier = [start];
  for (let depth = 1; frontier.length > 0; depth++) {
    const following: string[] = [];
    for (const node of frontier) {
      for (const e of (next.get(node) ?? []).slice().sort((a, b) => compareText(a.src, b.src) || compareText(a.dst, b.dst))) {
        const other = direction === 'down' ? e.dst : e.src;
        if (seen.has(other)) continue;
        seen.add(other);
        out.push({ table_name: other, via_task: e.via, depth });
        following.push(other);
      }
    }
    frontier = following;
  }
  return out;
}
