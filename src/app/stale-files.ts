/** What the registry says about task files edited since they were registered. */
import fs from 'node:fs';
import { codeVersion } from '../model/taskfile/code-version.js';
import { splitHeaderBlock } from '../model/taskfile/header-block.js';
import type { RegisteredTask } from '../store/store.js';
import { sameContent } from './task-files.js';

/**
 * Task files edited (or deleted) since they were registered: a run uses the registered
 * definition. Any edit counts, headers (`@test`, `@timeout`, …) and comments included: the
 * definition holds the body as written and the lines its errors are reported at, so an edit
 * anywhere changes what `register` would store. Comparing the file's content hash costs one
 * read and one hash per file.
 */
export function staleFiles(tasks: readonly RegisteredTask[]): string[] {
  const out: string[] = [];
  for (const t of tasks) {
    let text: string;
    try {
      text = fs.readFileSync(t.filePath, 'utf8').replace(/^\uFEFF/, '');
    } catch {
      out.push(`${t.definition.file} no longer exists; running the registered version of task ${t.definition.name}`);
      continue;
    }
    // A TypeScript module is loaded afresh when its task runs; only SQL runs the registered text.
    if (t.definition.kind !== 'sql') continue;
    // Registered before file hashes were kept: only the body can be compared.
    const changed = t.fileHash ? !sameContent(t.fileHash, text) : codeVersion(splitHeaderBlock(text).body) !== t.definition.codeVersion;
    if (changed)
      out.push(
        `${t.definition.file} changed since it was registered: this run uses the registered definition of task ${t.definition.name}; ` +
          '`duck-orch register` picks up the change',
      );
  }
  return out;
}
