/** The TypeScript task API: `Dag`, `asset()` and the types a task function sees. */
export { Dag, asset } from './dag.js';
export type { Asset, AssetFunction, AssetOptions, DagTaskFunction, DagTaskOptions, TaskResult } from './dag.js';
export type { AssetContext, JsonValue, TaskContext } from './dag.js';
