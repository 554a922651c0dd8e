/**
 * "Did you mean …?" that only suggests what is close: a typo of a few characters, never the
 * nearest of a list of unrelated names (`tag:nosuch` must not suggest `anomalies`).
 */
import { distance } from 'fastest-levenshtein';

/** Least similarity (1 − edits / longer length) for a candidate to count as a typo of the name. */
const MIN_SIMILARITY = 0.5;

/** The most similar candidate when at least half of it matches the name (case-insensitively), else undefined. */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase();
  let best: string | undefined;
  let bestScore = MIN_SIMILARITY;
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    const score = 1 - distance(wanted, lower) / Math.max(wanted.length, lower.length, 1);
    if (score > bestScore || (score === bestScore && (best === undefined ? score >= MIN_SIMILARITY : candidate < best))) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** `did you mean `x`?`, or undefined when nothing is close. */
export function didYouMean(
  name: string,
  candidates: Iterable<string>,
  format: (s: string) => string = (s) => `\`${s}\``,
): string | undefined {
  const s = suggest(name, candidates);
  return s === undefined ? undefined : `did you mean ${format(s)}?`;
}
