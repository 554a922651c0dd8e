import fs from 'node:fs';

/**
 * The package's version, read from the package.json next to the code rather than in the
 * working directory, so `npx duck-orch --version` reports the installed copy from anywhere.
 * `src/` and `dist/` sit at the same depth, so one relative path serves both.
 */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
