import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeVersion } from '../../../src/model/taskfile/code-version.js';

describe('codeVersion (FNV-1a 64)', () => {
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('known vector %j → %s', (text, hex) => {
    expect(codeVersion(text)).toBe(`fnv1a64:${hex}`);
  });

  it('hashes UTF-8 bytes, not UTF-16 code units', () => {
    // "é" is C3 A9 in UTF-8; hashing those two bytes must equal hashing the string.
    let hash = 0xcbf29ce484222325n;
    for (const byte of [0xc3, 0xa9]) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
    expect(codeVersion('é')).toBe(`fnv1a64:${hash.toString(16).padStart(16, '0')}`);
  });

  it('is always `fnv1a64:` and 16 lowercase hex digits', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(codeVersion(s)).toMatch(/^fnv1a64:[0-9a-f]{16}$/);
      }),
    );
  });

  it('is deterministic and sensitive to any change', () => {
    expect(codeVersion('SELECT 1')).toBe(codeVersion('SELECT 1'));
    expect(codeVersion('SELECT 1')).not.toBe(codeVersion('SELECT 2'));
    expect(codeVersion('SELECT 1')).not.toBe(codeVersion('SELECT 1 '));
  });
});

describe('codeVersion matches a BigInt reference implementation', () => {
  function reference(text: string): string {
    let hash = 0xcbf29ce484222325n;
    for (const byte of new TextEncoder().encode(text)) {
      hash ^= BigInt(byte);
      hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    return `fnv1a64:${hash.toString(16).padStart(16, '0')}`;
  }
  it('for arbitrary text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => codeVersion(s) === reference(s)));
  });
});
