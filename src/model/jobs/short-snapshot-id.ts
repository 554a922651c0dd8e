/** A snapshot id as people read it: the first 12 hex digits of its `sha256:` hash. */
export function shortSnapshotId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
