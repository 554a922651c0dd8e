/**
 * `@duckdb/node-api`, loaded as the CommonJS package it is. Imported as an ES module, Node runs
 * its export lexer over each of the package's modules (it re-exports them all), which took a
 * tenth of a second of every command that opens a database; `require` skips that. Values come
 * from here; types still come from `@duckdb/node-api` with `import type`.
 */
import { createRequire } from 'node:module';
import type * as Api from '@duckdb/node-api';

export const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof Api;

export const DuckDBInstance = duckdb.DuckDBInstance;
export type DuckDBInstance = Api.DuckDBInstance;
export const listValue = duckdb.listValue;
