// BENCH_BASELINE_REF: another commit of duck-orch (e.g. d92bbd5, the build before the jobs ledger),
// checked out in a temporary git worktree and built there, so that a case can run that build's
// CLI beside the current one as a whole process. The worktree reuses this checkout's node_modules
// (a symlink) when every dependency range of the commit's package.json is the same as today's
// (what is installed satisfies them), else installs them with `npm ci --prefer-offline`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tail } from './lib.mjs';

const git = (args, cwd = ROOT) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function sh(cmd, args, cwd, what) {
  try {
    execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`${what} failed: ${tail(`${err.stdout ?? ''}${err.stderr ?? ''}` || err.message)}`);
  }
}

/** Dependencies whose range differs between two package.json files (those the commit needs that today's lacks or pins otherwise). */
function changedDependencies(then, now) {
  const ranges = (p) => ({ ...p.dependencies, ...p.devDependencies });
  const a = ranges(then);
  const b = ranges(now);
  return Object.keys(a).filter((name) => a[name] !== b[name]);
}

/**
 * Builds `ref` in `<dir>/tree`. Returns `{ commit, cli, install, buildMs, remove }`; `remove()`
 * (synchronous, for exit paths) takes the worktree away again.
 */
export function buildRef(ref, dir, log) {
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const tree = path.join(dir, 'tree');
  const t0 = performance.now();
  git(['worktree', 'add', '--detach', tree, commit]);
  const remove = () => {
    try {
      git(['worktree', 'remove', '--force', tree]);
    } catch {
      fs.rmSync(tree, { recursive: true, force: true });
      git(['worktree', 'prune']);
    }
  };
  try {
    const then = JSON.parse(fs.readFileSync(path.join(tree, 'package.json'), 'utf8'));
    const now = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const changed = changedDependencies(then, now);
    let install;
    if (changed.length === 0) {
      fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(tree, 'node_modules'));
      install = 'node_modules of this checkout (same dependency ranges)';
    } else {
      log(`  ${ref}: dependencies differ (${changed.join(', ')}): npm ci --prefer-offline`);
      sh('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], tree, `npm ci in ${ref}`);
      install = `npm ci (${changed.join(', ')} differ)`;
    }
    sh('npm', ['run', 'build'], tree, `npm run build of ${ref}`);
    const cli = path.join(tree, 'dist/interfaces/cli/main.js');
    if (!fs.existsSync(cli)) throw new Error(`the build of ${ref} has no ${path.relative(tree, cli)}`);
    const buildMs = performance.now() - t0;
    log(`  ${ref} (${commit.slice(0, 7)}) built in ${tree} in ${(buildMs / 1000).toFixed(0)} s; ${install}`);
    return { ref, commit, cli, install, buildMs, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
