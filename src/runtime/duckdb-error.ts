/**
 * DuckDB's error messages, taken apart. A task's connection sets `errors_as_json`, so that an
 * error carries the exact position DuckDB found it at (`"position":"14"`, a byte offset into
 * the text sent), also when several statements were sent at once, where the plain message
 * has no `LINE n:` excerpt at all, and however long the line (the excerpt is cut to ~80
 * characters around a caret counted in display widths). The plain form is understood too.
 */

export interface DuckdbError {
  /** As DuckDB prints it, without the `LINE n:` excerpt: `Catalog Error: Table with name trip does not exist!\nDid you mean "trips"?`. */
  text: string;
  /** Byte offset into the SQL text that was sent, when DuckDB knows where. */
  position: number | undefined;
}

interface JsonError {
  exception_type?: unknown;
  exception_message?: unknown;
  position?: unknown;
}

export function parseDuckdbError(message: string): DuckdbError {
  // A parser error keeps its `Parser Error: ` prefix in front of the JSON.
  const json = /^(?:[\w ]+ Error: )?(\{[\s\S]*\})$/.exec(message.trim())?.[1];
  if (json !== undefined) {
    let parsed: JsonError | undefined;
    try {
      parsed = JSON.parse(json) as JsonError;
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed.exception_type === 'string' && typeof parsed.exception_message === 'string') {
      const position = typeof parsed.position === 'string' && /^\d+$/.test(parsed.position) ? Number(parsed.position) : undefined;
      return { text: `${parsed.exception_type} Error: ${parsed.exception_message}`, position };
    }
  }
  return { text: message.replace(/\n+LINE \d+:[\s\S]*$/, ''), position: undefined };
}

/**
 * The error on one line, its hint included: `… does not exist! Did you mean "trips"?`, `…
 * not found in FROM clause! Candidate bindings: "station_name", "id"`. Log lines, the run
 * summary and the `status` table show one line per error.
 */
export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

/** The UTF-16 offset in `text` of DuckDB's byte `position` in it. */
export function charOffset(text: string, position: number): number {
  return Buffer.from(text, 'utf8').subarray(0, position).toString('utf8').length;
}
