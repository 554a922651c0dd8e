/**
 * Sets of partition indices as sorted, disjoint, non-adjacent half-open ranges `[lo, hi)`: what
 * partitions of an asset are materialised, failed or missing is worked out by arithmetic on a
 * few ranges rather than by listing keys (a century of hours is 876,000 keys, usually one range).
 */
export type Range = readonly [lo: number, hi: number];

export class RangeSet {
  private constructor(readonly ranges: readonly Range[]) {}

  static readonly EMPTY = new RangeSet([]);

  static of(lo: number, hi: number): RangeSet {
    return hi > lo ? new RangeSet([[lo, hi]]) : RangeSet.EMPTY;
  }

  /** From ranges in any order, overlapping or touching. */
  static from(ranges: Iterable<Range>): RangeSet {
    const sorted = [...ranges].filter(([lo, hi]) => hi > lo).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const out: Array<[number, number]> = [];
    for (const [lo, hi] of sorted) {
      const last = out[out.length - 1];
      if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
      else out.push([lo, hi]);
    }
    return new RangeSet(out);
  }

  /** From single indices, in any order. */
  static ofIndices(indices: Iterable<number>): RangeSet {
    const sorted = [...indices].sort((a, b) => a - b);
    const out: Array<[number, number]> = [];
    for (const i of sorted) {
      const last = out[out.length - 1];
      if (last && i <= last[1]) last[1] = Math.max(last[1], i + 1);
      else out.push([i, i + 1]);
    }
    return new RangeSet(out);
  }

  get size(): number {
    let n = 0;
    for (const [lo, hi] of this.ranges) n += hi - lo;
    return n;
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  has(i: number): boolean {
    let a = 0;
    let b = this.ranges.length - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      const [lo, hi] = this.ranges[m]!;
      if (i < lo) b = m - 1;
      else if (i >= hi) a = m + 1;
      else return true;
    }
    return false;
  }

  union(other: RangeSet): RangeSet {
    if (other.isEmpty) return this;
    if (this.isEmpty) return other;
    return RangeSet.from([...this.ranges, ...other.ranges]);
  }

  intersect(other: RangeSet): RangeSet {
    const out: Range[] = [];
    let i = 0;
    let j = 0;
    while (i < this.ranges.length && j < other.ranges.length) {
      const [alo, ahi] = this.ranges[i]!;
      const [blo, bhi] = other.ranges[j]!;
      const lo = Math.max(alo, blo);
      const hi = Math.min(ahi, bhi);
      if (hi > lo) out.push([lo, hi]);
      if (ahi < bhi) i++;
      else j++;
    }
    return new RangeSet(out);
  }

  minus(other: RangeSet): RangeSet {
    if (other.isEmpty || this.isEmpty) return this;
    const out: Range[] = [];
    let j = 0;
    for (const [lo0, hi] of this.ranges) {
      let lo = lo0;
      while (j < other.ranges.length && other.ranges[j]![1] <= lo) j++;
      let k = j;
      while (k < other.ranges.length && other.ranges[k]![0] < hi) {
        const [blo, bhi] = other.ranges[k]!;
        if (blo > lo) out.push([lo, blo]);
        lo = Math.max(lo, bhi);
        if (bhi >= hi) break;
        k++;
      }
      if (lo < hi) out.push([lo, hi]);
    }
    return new RangeSet(out);
  }

  /** Indices in order, at most `limit` of them (for listing a few keys, never all of a large set). */
  *indices(limit = Infinity): Generator<number> {
    let n = 0;
    for (const [lo, hi] of this.ranges)
      for (let i = lo; i < hi; i++) {
        if (n++ >= limit) return;
        yield i;
      }
  }

  /** The last `count` indices, in order. */
  tail(count: number): number[] {
    const out: number[] = [];
    for (let r = this.ranges.length - 1; r >= 0 && out.length < count; r--) {
      const [lo, hi] = this.ranges[r]!;
      for (let i = hi - 1; i >= lo && out.length < count; i--) out.push(i);
    }
    return out.reverse();
  }
}
