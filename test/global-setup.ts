import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** CLI tests run the built `dist/` (what users get); rebuild it when any source is newer. */
function newest(dir: string): number {
  let max = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return max;
}

export default function setup(): void {
  const entry = 'dist/interfaces/cli/main.js';
  if (!fs.existsSync(entry) || fs.statSync(entry).mtimeMs < newest('src')) {
    execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
  }
}
