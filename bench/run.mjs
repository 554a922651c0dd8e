// npm run bench: each case in its own process (so its peak RSS is its own), baselines measured
// in the same run, figures printed as a table and written to bench/results.json.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const only = process.argv[2];
const cases = ['trivial-raw', 'trivial-duckorch', 'trivial-duckorch-p4', 'shop-raw', 'shop-duckorch', 'shop-duckorch-p4', 'register'];
const results = {};
for (const name of cases) {
  if (only && !name.startsWith(only)) continue;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `duckorch-bench-${name}-`));
  try {
    const out = execFileSync(process.execPath, ['bench/case.mjs', name, work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    results[name] = JSON.parse(out.trim().split('\n').at(-1));
    process.stderr.write(`${name}: ${results[name].ms.toFixed(0)} ms, peak RSS ${results[name].maxRssMb.toFixed(0)} MB\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const rows = [];
const rss = (r) => `${r.maxRssMb.toFixed(0)} MB`;
if (results['trivial-raw'] && results['trivial-duckorch']) {
  const raw = results['trivial-raw'];
  for (const key of ['trivial-duckorch', 'trivial-duckorch-p4']) {
    const d = results[key];
    if (!d) continue;
    rows.push([
      `1,000 trivial tasks, ${key.endsWith('p4') ? '4 parallel' : 'sequential'}`,
      `${d.ms.toFixed(0)} ms (${(d.ms / d.tasks).toFixed(2)} ms/task)`,
      `raw ${raw.ms.toFixed(0)} ms (${(raw.ms / raw.tasks).toFixed(2)} ms/task)`,
      `overhead ${((d.ms - raw.ms) / d.tasks).toFixed(2)} ms/task, ratio ${(d.ms / raw.ms).toFixed(2)}`,
      `${rss(d)} / raw ${rss(raw)}`,
    ]);
  }
}
if (results['shop-raw'] && results['shop-duckorch']) {
  const raw = results['shop-raw'];
  for (const key of ['shop-duckorch', 'shop-duckorch-p4']) {
    const d = results[key];
    if (!d) continue;
    rows.push([
      `example shop ×${process.env.BENCH_SHOP_FACTOR ?? 400} (2M orders), ${key.endsWith('p4') ? '4 parallel' : 'sequential'}`,
      `${d.ms.toFixed(0)} ms`,
      `raw ${raw.ms.toFixed(0)} ms`,
      `ratio ${(d.ms / raw.ms).toFixed(3)}`,
      `${rss(d)} / raw ${rss(raw)}`,
    ]);
  }
}
if (results.register) {
  const r = results.register;
  rows.push([`register ${r.files} task files`, `${r.ms.toFixed(0)} ms`, '', `${((r.files / r.ms) * 1000).toFixed(0)} files/s`, rss(r)]);
}
const header = ['benchmark', 'duck-orch', 'baseline', 'result', 'peak RSS'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log([line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'));
fs.writeFileSync(
  'bench/results.json',
  JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, results }, null, 2) + '\n',
);
