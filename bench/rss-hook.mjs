// Preloaded into every measured child (`node --import bench/rss-hook.mjs …`): on exit, writes the
// process's peak RSS (maxRSS, in KiB) to $BENCH_RSS_FILE. Nothing else: the command it wraps runs
// exactly as a user would run it.
import fs from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    try {
      fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
    } catch {
      // No file descriptor left (e.g. under a tight `ulimit -n`): the peak RSS is reported as unknown.
    }
  });
}
