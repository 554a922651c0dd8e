// Copies the non-TypeScript files the runtime reads (SQL migrations) next to the compiled code.
import fs from 'node:fs';

fs.cpSync('src/store/duckdb/migrations', 'dist/store/duckdb/migrations', { recursive: true });
