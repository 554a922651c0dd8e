// One repeat of the `register` case: open a new database and register a folder of task files
// through the library API (what `duck-orch register` does, without the CLI's start-up and output).
// Usage: node bench/register-case.mjs <tasks-dir> <db>
// Prints one JSON line: { ms (open + register + close), files, tasks }.
import { Project, loadConfig } from '../dist/index.js';

const [dir, db] = process.argv.slice(2);
const t0 = performance.now();
const project = await Project.open({ config: loadConfig({ flags: { db }, env: {} }), access: 'create' });
let result;
try {
  result = await project.register(dir);
} finally {
  await project.close();
}
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ ms, files: result.files, tasks: result.tasks.length }) + '\n');
