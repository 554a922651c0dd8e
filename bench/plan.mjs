// Exports the plan of a registered project to a JSON file, so that the raw DuckDB baseline can run
// in a process of its own that loads nothing but that file and @duckdb/node-api.
// Usage: node bench/plan.mjs <db> <plan.json> [<tasks-dir>]
//   With <tasks-dir>: registers it into a new database <db> first (through the library API).
//   Without: reads an already registered <db> (e.g. registered by the CLI).
// The plan holds the tasks in run order, each with its statements (variables substituted as on a
// first run), its @test queries and assertions, and its upstream tasks; plus the schemas to create.
import fs from 'node:fs';
import { Project, loadConfig } from '../dist/index.js';
import { prepareStatements } from '../dist/runtime/sql-task.js';
import { DEFAULT_WATERMARK } from '../dist/model/watermark.js';
import { renderTemplate } from '../dist/sql/template.js';
import { quoteIdentifier, schemaOf } from '../dist/model/names.js';

const [db, out, dir] = process.argv.slice(2);
const project = await Project.open({ config: loadConfig({ flags: { db }, env: {} }), access: dir ? 'create' : 'read' });
let plan;
try {
  if (dir) await project.register(dir);
  const { tasks, graph, selected } = await project.select({});
  const byName = new Map(tasks.map((t) => [t.definition.name, t.definition]));
  const chosen = new Set(selected);
  // A first run: no watermark yet. `now` and `run_id` are fixed; the bench workloads do not depend on them.
  const variables = { last_processed_at: DEFAULT_WATERMARK, now: '2026-01-01 00:00:00', run_id: 'bench' };
  const planned = selected.map((name) => {
    const t = byName.get(name);
    return {
      name,
      upstream: [...graph.upstreamOf(name)].filter((u) => chosen.has(u)).sort(),
      statements: prepareStatements(t).map((s) => ({ sql: renderTemplate(s.text, variables), isQuery: s.isQuery })),
      tests: t.tests.map((x) => ({ sql: x.sql, assertion: x.assertion })),
    };
  });
  const schemas = [
    ...new Set(
      selected.flatMap((n) =>
        byName
          .get(n)
          .outputs.map(schemaOf)
          .filter((s) => s !== undefined)
          .map(quoteIdentifier),
      ),
    ),
  ].sort();
  // Cross-check the graph against what the registry stored.
  const conn = await (await project.database()).instance.connect();
  const stored = Number((await conn.runAndReadAll('SELECT count(*) FROM __orch__.task_edges')).getRows()[0][0]);
  conn.closeSync();
  const edges = planned.reduce((n, t) => n + t.upstream.length, 0);
  if (stored !== edges) throw new Error(`plan has ${edges} edges, __orch__.task_edges has ${stored}`);
  plan = { tasks: planned, schemas, edges };
} finally {
  await project.close();
}
fs.writeFileSync(out, JSON.stringify(plan));
process.stdout.write(
  JSON.stringify({
    tasks: plan.tasks.length,
    statements: plan.tasks.reduce((n, t) => n + t.statements.length, 0),
    tests: plan.tasks.reduce((n, t) => n + t.tests.length, 0),
    edges: plan.edges,
  }) + '\n',
);
