/** What the registry says about task files edited since they were registered (a run uses the registered definitions). */
import fs from 'node:fs';
import { codeVersion } from '../model/taskfile/code-version.js';
import { splitHeaderBlock } from '../model/taskfile/header-block.js';
import type { RegisteredTask } from '../store/store.js';

/** Task files edited (or deleted) since they were registered: a run uses the registered SQL. */
export function staleFiles(tasks: readonly RegisteredTask[]): string[] {
  const out: string[] = [];
  for (const t of tasks) {
    let text: string;
    try {
      text = fs.readFileSync(t.filePath, 'utf8');
    } catch {
      out.push(`${t.definition.file} no longer exists; running the registered version of task ${t.definition.name}`);
      continue;
    }
    // A TypeScript module is loaded afresh when its task runs; only SQL runs the registered text.
    if (t.definition.kind === 'sql' && codeVersion(splitHeaderBlock(text.replace(/^\uFEFF/, '')).body) !== t.definition.codeVersion) {
      out.push(`${t.definition.file} changed since it was registered; run \`duck-orch register\` to use the new SQL`);
    }
  }
  return out;
}
