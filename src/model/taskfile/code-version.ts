/** `fnv1a64:` and 16 hex digits of the SQL body, as the original computed it. */
export function codeVersion(text: string): string {
  // 64-bit FNV-1a in two 32-bit halves: BigInt arithmetic is ~50× slower, and this runs for
  // every task file on every `register` and `run`.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of new TextEncoder().encode(text)) {
    lo ^= byte;
    // h · 0x100000001b3 = h · 0x1b3 + (h << 40), modulo 2^64
    const loProduct = (lo >>> 0) * 0x1b3;
    const carry = Math.floor(loProduct / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = loProduct >>> 0;
  }
  return `fnv1a64:${hi.toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}
