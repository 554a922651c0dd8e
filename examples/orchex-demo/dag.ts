/**
 * The DAG `duck-orch demo` seeds (Orchex's demo, in duckorch's API): each run fetches a
 * document from its `uri`, splits it into words, counts them and writes a small report.
 * Nothing leaves the process: `memory://` documents are made up from the URI.
 */
import { Dag } from 'duckorch';

export const dag = new Dag('orchex_demo');

dag.task({ name: 'fetch', retries: 2, timeout: 30 }, async (inputs: { uri?: string } | null) => {
  const uri = inputs?.uri ?? 'memory://empty';
  return { uri, text: `the quick brown fox jumps over the lazy dog ${uri}` };
});

dag.task({ name: 'tokenize', requires: ['fetch'] }, async ({ fetch }: { fetch: { text: string } }) => ({
  words: fetch.text.split(/\s+/).filter((w) => w !== ''),
}));

dag.task({ name: 'count', requires: ['tokenize'] }, async ({ tokenize }: { tokenize: { words: string[] } }) => {
  const counts: Record<string, number> = {};
  for (const w of tokenize.words) counts[w] = (counts[w] ?? 0) + 1;
  return { distinct: Object.keys(counts).length, total: tokenize.words.length };
});

dag.task(
  { name: 'report', requires: ['fetch', 'count'] },
  async ({ fetch, count }: { fetch: { uri: string }; count: { distinct: number; total: number } }) => ({
    uri: fetch.uri,
    summary: `${count.total} words, ${count.distinct} distinct`,
  }),
);
