// The `automation-10k` case's measurement, in one process: `automation status` (every asset's
// condition evaluated against the ledger) over a registered project, <repeats> times after one
// warm-up; then the evaluation alone, the same conditions over the same states read once.
// Usage: node bench/automation-time.mjs <db> <repeats>
// Prints one JSON line: { assets, met, total: [ms…], evaluation: [ms…] }.
import { loadConfig, Project } from '../dist/index.js';
import { parseCondition } from '../dist/model/automation/condition.js';
import { evaluateCondition } from '../dist/model/automation/evaluate.js';

const [db, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg);
const project = await Project.open({ config: loadConfig({ flags: { db }, env: {} }), access: 'read' });
let rows = await project.automationStatus();
const total = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  rows = await project.automationStatus();
  total.push(performance.now() - t0);
}
const parsed = new Map();
for (const r of rows) if (!parsed.has(r.condition)) parsed.set(r.condition, parseCondition(r.condition).condition);
const evaluation = [];
let met = 0;
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  met = 0;
  for (const r of rows) if (evaluateCondition(parsed.get(r.condition), r.state, r.at).met) met++;
  evaluation.push(performance.now() - t0);
}
await project.close();
console.log(JSON.stringify({ assets: rows.length, met, total, evaluation }));
