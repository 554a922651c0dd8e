/**
 * JSON values: what a function task returns, what a run's inputs are, what the ledger stores.
 * `jsonProblem` tells, before anything is stored, why a value would not survive
 * `JSON.stringify` unchanged — and where in the value the culprit sits.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A reason a value is not JSON, with the path to the offending part (`result.rows[2].at`). */
export interface JsonProblem {
  path: string;
  what: string;
}

const LOSSY: ReadonlyMap<string, string> = new Map([
  ['Map', 'a Map (JSON writes it as {}); convert it with Object.fromEntries(map)'],
  ['Set', 'a Set (JSON writes it as {}); convert it with [...set]'],
  ['WeakMap', 'a WeakMap'],
  ['WeakSet', 'a WeakSet'],
  ['RegExp', 'a RegExp (JSON writes it as {})'],
  ['Promise', 'a Promise (a missing `await`?)'],
  ['Error', 'an Error (JSON writes it as {}); return its message instead'],
]);

function describeObject(value: object): string | undefined {
  if (Array.isArray(value)) return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || proto === Object.prototype) return undefined;
  // Another realm's plain object (a vm context) has its own Object.prototype.
  if (Object.getPrototypeOf(proto) === null && (proto as { constructor?: { name?: string } }).constructor?.name === 'Object')
    return undefined;
  if (value instanceof Error) return LOSSY.get('Error');
  const name = (proto as { constructor?: { name?: string } }).constructor?.name ?? 'anonymous class';
  if (typeof (value as { then?: unknown }).then === 'function') return LOSSY.get('Promise');
  return LOSSY.get(name) ?? `an instance of ${name} (only plain objects, arrays and values with toJSON() are JSON)`;
}

function key(path: string, k: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;
}

/**
 * The first part of `value` that JSON cannot represent faithfully, or undefined when
 * `JSON.stringify` would keep it whole. `undefined` object properties are fine (JSON omits
 * them, as JavaScript code expects); `undefined` at the top is the caller's business.
 */
export function jsonProblem(value: unknown, root = 'result'): JsonProblem | undefined {
  const ancestors: object[] = [];
  const visit = (v: unknown, path: string, inArray: boolean): JsonProblem | undefined => {
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      if (ancestors.includes(v)) return { path, what: 'a circular reference' };
      // Dates, Buffers and the like say themselves what they are in JSON.
      let json: unknown;
      try {
        json = (v as { toJSON: (key: string) => unknown }).toJSON('');
      } catch (err) {
        return { path, what: `a value whose toJSON() threw: ${err instanceof Error ? err.message : String(err)}` };
      }
      ancestors.push(v);
      const inner = visit(json, path, inArray);
      ancestors.pop();
      return inner;
    }
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return undefined;
      case 'number':
        return Number.isFinite(v) ? undefined : { path, what: `${String(v)} (JSON writes it as null)` };
      case 'bigint':
        return { path, what: `a BigInt (${String(v)}n); convert it with Number() or String()` };
      case 'function':
        return { path, what: `a function${v.name ? ` (${v.name})` : ''}` };
      case 'symbol':
        return { path, what: `a symbol (${String(v)})` };
      case 'undefined':
        return inArray ? { path, what: 'undefined (JSON writes it as null in an array)' } : undefined;
      default:
        break;
    }
    if (v === null) return undefined;
    const obj = v as object;
    if (ancestors.includes(obj)) return { path, what: 'a circular reference' };
    const lossy = describeObject(obj);
    if (lossy) return { path, what: lossy };
    ancestors.push(obj);
    try {
      if (Array.isArray(obj)) {
        for (let i = 0; i < obj.length; i++) {
          const p = visit(obj[i], `${path}[${i}]`, true);
          if (p) return p;
        }
        return undefined;
      }
      for (const sym of Object.getOwnPropertySymbols(obj)) {
        if (Object.prototype.propertyIsEnumerable.call(obj, sym)) return { path, what: `an object with a symbol key (${String(sym)})` };
      }
      for (const [k, child] of Object.entries(obj)) {
        const p = visit(child, key(path, k), false);
        if (p) return p;
      }
      return undefined;
    } finally {
      ancestors.pop();
    }
  };
  return visit(value, root, false);
}
