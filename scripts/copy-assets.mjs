// After tsc: copy the non-TypeScript files the runtime reads (SQL migrations) next to the
// compiled code, and make the CLI entry executable (tsc does not), so `npx duck-orch` runs it.
import fs from 'node:fs';

fs.cpSync('src/store/duckdb/migrations', 'dist/store/duckdb/migrations', { recursive: true });
fs.chmodSync('dist/interfaces/cli/main.js', 0o755);
