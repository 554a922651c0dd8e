#!/usr/bin/env node
import { runCli } from './program.js';

/**
 * A writer that goes quiet once its reader has gone away: `duck-orch list | head -1` closes
 * the pipe after one line, and the rest of the output has nowhere to go. That is the reader's
 * choice, not a failure, so it ends without a stack trace; any other stream error still surfaces.
 */
function lineWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // Writes queued before the first EPIPE fail too, as "destroyed" once the stream is torn down.
    if (err.code === 'EPIPE' || (closed && err.code === 'ERR_STREAM_DESTROYED')) {
      closed = true;
      return;
    }
    throw err;
  });
  return (text) => {
    if (!closed) stream.write(`${text}\n`);
  };
}

const code = await runCli(process.argv.slice(2), {
  out: lineWriter(process.stdout),
  err: lineWriter(process.stderr),
  env: process.env,
});
process.exitCode = code;
