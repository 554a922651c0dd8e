/**
 * The socket's JSON, which keeps what plain JSON loses in the application service's calls and
 * results: dates and maps come back as `Date` and `Map`, omitted values as `undefined`, errors
 * as `DuckorchError`s.
 */
import { DuckorchError, DuckorchErrors, type ErrorJson } from '../../errors.js';

export function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    // `toJSON` has already turned a Date into a string by now: read the original from the holder.
    const original = this[key];
    if (original instanceof Date) return { $date: original.toISOString() };
    if (original instanceof Map) return { $map: [...original.entries()] };
    // JSON would turn an omitted argument into null.
    if (v === undefined) return { $undefined: true };
    return v;
  });
}

export function decode<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$date === 'string' && Object.keys(o).length === 1) return new Date(o.$date);
      if (Array.isArray(o.$map) && Object.keys(o).length === 1) return new Map(o.$map as Array<[unknown, unknown]>);
      if (o.$undefined === true && Object.keys(o).length === 1) return undefined;
    }
    return v;
  }) as T;
}

export function encodeError(err: unknown): string {
  if (err instanceof DuckorchErrors) return JSON.stringify({ errors: err.errors.map((e) => e.toJSON()) });
  if (err instanceof DuckorchError) return JSON.stringify({ errors: [err.toJSON()] });
  return JSON.stringify({ errors: [{ code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) }] });
}

export function decodeError(text: string): Error {
  const errors = (JSON.parse(text) as { errors: ErrorJson[] }).errors.map(DuckorchError.fromJSON);
  return errors.length === 1 ? errors[0]! : new DuckorchErrors(errors);
}
