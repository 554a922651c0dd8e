/**
 * What `import … from 'duckorch'` gives a task module: this copy of duckorch's whole API. Its
 * entry points say where it is (`src/index.ts` itself, the CLI's `main.ts`), so that the module
 * loader (`task-modules.ts`) never imports the package root it is part of. Without one, task
 * modules get the task-authoring API only (`Dag`, `asset`).
 */
let provider: (() => Promise<unknown>) | undefined;

export function provideTaskLibrary(library: () => Promise<unknown>): void {
  provider ??= library;
}

export function taskLibrary(): Promise<unknown> {
  return (provider ?? (() => import('./lib/index.js')))();
}
