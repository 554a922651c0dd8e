/**
 * Replays a task body's statements in order, as the task's own DuckDB connection sees them:
 * an unqualified name means a temporary table created earlier in the body if there is one,
 * else a table in the schema chosen by the latest `USE` (or `SET schema`/`search_path`).
 * Each statement adds lineage from what it reads to what it writes; a temporary table stands
 * for the datasets it was built from, so lineage goes through it and it never appears itself.
 */
import { canonicalTableName, datasetKey, DatasetSet, identifierParts } from '../model/names.js';
import { isTempQualified, type DatasetRef } from './dataset-ref.js';
import type { StatementPlan } from './statement-plan.js';

/** Data of `src` flows into `dst` within one task. */
export interface LineageEdge {
  src: string;
  dst: string;
}

interface TempTable {
  /** Non-temporary datasets its rows come from. */
  sources: DatasetSet;
  /** Temporary tables a temporary view reads: a view is evaluated when read, so these expand then. */
  views: Set<string>;
}

type Resolved = { temp: string } | { name: string };

function tempKey(part: string): string {
  return datasetKey(canonicalTableName([part]));
}

export class BodyScope {
  /** The default schema (and catalog) of unqualified names; `[]` is DuckDB's default. */
  private schema: string[] = [];
  private readonly temps = new Map<string, TempTable>();
  private readonly tempMacros = new Set<string>();
  private readonly reads = new DatasetSet();
  private readonly writes = new DatasetSet();
  private readonly edges = new Map<string, LineageEdge>();

  /**
   * Applies one statement, given what its queries read (as DuckDB's parser found them).
   * Returns messages about what it does that is not tracked.
   */
  apply(plan: StatementPlan, queryReads: readonly DatasetRef[]): string[] {
    const untracked: string[] = [];
    const direct = new DatasetSet();
    const viaTemps = new Set<string>();
    for (const ref of [...plan.reads, ...queryReads]) {
      const r = this.resolve(ref);
      if ('temp' in r) viaTemps.add(r.temp);
      else direct.add(r.name);
    }
    for (const name of direct) this.reads.add(name);
    const sources = new DatasetSet(direct);
    for (const key of viaTemps) for (const s of this.expand(key, new Set())) sources.add(s);

    for (const effect of plan.effects) {
      switch (effect.type) {
        case 'create':
          if (effect.target.kind === 'table' && effect.temporary) {
            const key = tempKey(effect.target.parts[effect.target.parts.length - 1]!);
            const table = effect.view
              ? { sources: direct, views: viaTemps }
              : { sources: new DatasetSet(sources), views: new Set<string>() };
            this.temps.set(key, table);
          } else this.write(this.resolveCreate(effect.target), sources);
          break;
        case 'modify': {
          const r = this.resolve(effect.target);
          if ('name' in r) {
            this.write(r.name, sources);
            break;
          }
          const table = this.temps.get(r.temp) ?? { sources: new DatasetSet(), views: new Set<string>() };
          if (effect.empties) this.temps.set(r.temp, { sources: new DatasetSet(), views: new Set() });
          else this.temps.set(r.temp, { sources: new DatasetSet([...table.sources, ...sources]), views: table.views });
          break;
        }
        case 'drop': {
          const r = this.resolve(effect.target);
          if ('temp' in r) this.temps.delete(r.temp);
          else this.write(r.name, []);
          break;
        }
        case 'rename': {
          const r = this.resolve(effect.target);
          if ('temp' in r) {
            const table = this.temps.get(r.temp);
            this.temps.delete(r.temp);
            if (table) this.temps.set(tempKey(effect.to), table);
          } else {
            // The new name keeps the table's schema, and holds what the old name held.
            const to = canonicalTableName([...identifierParts(r.name).slice(0, -1), effect.to]);
            this.write(r.name, []);
            this.write(to, [r.name]);
          }
          break;
        }
        case 'use':
          this.schema = effect.schema;
          break;
        case 'macro': {
          const key = datasetKey(effect.name);
          if (effect.drop && (effect.temporary || this.tempMacros.delete(key))) break;
          if (!effect.drop && effect.temporary) {
            this.tempMacros.add(key);
            break;
          }
          untracked.push(
            effect.drop
              ? `dropping macro ${effect.name} is not tracked: tasks that call it are not ordered around this task; declare \`@depends_on\` where it matters`
              : `creating macro ${effect.name} is not tracked: tasks that call it do not depend on this task; declare \`@depends_on\` on this task in them`,
          );
          break;
        }
      }
    }
    return untracked;
  }

  /** Whether a statement (before it is applied) changes a dataset that outlives the task, not only temporary tables. */
  changesPersistent(plan: StatementPlan): boolean {
    return plan.effects.some((e) => {
      switch (e.type) {
        case 'create':
          return !(e.temporary && e.target.kind === 'table');
        case 'modify':
        case 'drop':
        case 'rename':
          return 'name' in this.resolve(e.target);
        default:
          return false;
      }
    });
  }

  /** Task-level reads and writes, and the lineage, each name spelled as first written (else first read). */
  result(): { reads: string[]; writes: string[]; lineage: LineageEdge[] } {
    const spelling = new Map<string, string>();
    for (const name of [...this.writes, ...this.reads]) if (!spelling.has(datasetKey(name))) spelling.set(datasetKey(name), name);
    const spell = (name: string) => spelling.get(datasetKey(name)) ?? name;
    const lineage = [...this.edges.values()]
      .map((e) => ({ src: spell(e.src), dst: spell(e.dst) }))
      .sort((a, b) => (a.src < b.src ? -1 : a.src > b.src ? 1 : a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
    return {
      writes: [...this.writes].sort(),
      // What a task writes itself is not an input of it (incremental loads read their own target).
      reads: [...this.reads].filter((r) => !this.writes.has(r)).sort(),
      lineage,
    };
  }

  private write(name: string, sources: Iterable<string>): void {
    this.writes.add(name);
    for (const src of sources) {
      if (datasetKey(src) === datasetKey(name)) continue;
      const key = `${datasetKey(src)}\u0000${datasetKey(name)}`;
      if (!this.edges.has(key)) this.edges.set(key, { src, dst: name });
    }
  }

  /** The non-temporary datasets behind a temporary table or view, now. */
  private expand(key: string, seen: Set<string>): string[] {
    if (seen.has(key)) return [];
    seen.add(key);
    const table = this.temps.get(key);
    if (!table) return [];
    return [...table.sources, ...[...table.views].flatMap((k) => this.expand(k, seen))];
  }

  /** A name read or changed: a temporary table if one of that name exists, else in the current schema. */
  private resolve(ref: DatasetRef): Resolved {
    if (ref.kind === 'file') return { name: ref.name };
    const parts = ref.parts;
    if (isTempQualified(parts)) return { temp: tempKey(parts[parts.length - 1]!) };
    if (parts.length === 1) {
      const key = tempKey(parts[0]!);
      if (this.temps.has(key)) return { temp: key };
      return { name: canonicalTableName([...this.schema, parts[0]!]) };
    }
    return { name: canonicalTableName(parts) };
  }

  /** A name created by CREATE TABLE|VIEW (not TEMP): always in the current schema, whatever temporary tables exist. */
  private resolveCreate(ref: DatasetRef): string {
    if (ref.kind === 'file') return ref.name;
    return canonicalTableName(ref.parts.length === 1 ? [...this.schema, ref.parts[0]!] : ref.parts);
  }
}
