#!/usr/bin/env node
import fs from 'node:fs';
import { provideTaskLibrary } from '../../task-library.js';
import { runCli } from './program.js';

// Task modules that `import … from 'duckorch'` get the whole library, loaded when one does.
provideTaskLibrary(() => import('../../index.js'));

// Node 20 has no `navigator` (21 does): without it, pg tells Node from a Cloudflare Worker by
// building a `Response`, which loads fetch's implementation — a tenth of a second of every
// command that reaches PostgreSQL. Only this process, never the library, sets it.
(globalThis as { navigator?: unknown }).navigator ??= { userAgent: `Node.js/${process.version.slice(1)}` };

/**
 * A writer that goes quiet once its reader has gone away: `duck-orch list | head -1` closes
 * the pipe after one line, and the rest of the output has nowhere to go. That is the reader's
 * choice, not a failure, so it ends without a stack trace; any other stream error still surfaces.
 */
function lineWriter(stream: NodeJS.WriteStream, fd: number): (text: string) => void {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // Writes queued before the first EPIPE fail too, as "destroyed" once the stream is torn down.
    if (err.code === 'EPIPE' || (closed && err.code === 'ERR_STREAM_DESTROYED')) {
      closed = true;
      return;
    }
    throw err;
  });
  // Lines go out together, at most 50 ms after the first of them (or at exit): a worker logs two
  // lines a job, and a write per line (a system call, costly in sandboxes) was a tenth of its time
  // at thousands of jobs a second, and then half of it.
  let pending = '';
  const flush = () => {
    const text = pending;
    pending = '';
    if (text && !closed) stream.write(text);
  };
  process.once('exit', () => {
    if (pending && !closed) fs.writeSync(fd, pending);
  });
  return (text) => {
    if (closed) return;
    if (pending === '') setTimeout(flush, 50).unref();
    pending += `${text}\n`;
    if (pending.length > 65_536) flush();
  };
}

const code = await runCli(process.argv.slice(2), {
  out: lineWriter(process.stdout, 1),
  err: lineWriter(process.stderr, 2),
  env: process.env,
});
process.exitCode = code;
