import { distance } from 'fastest-levenshtein';

/**
 * The known name closest to a misspelt one, for "did you mean ...?" in a problem's fix: only
 * when it is close (an edit distance of at most a third of the name, and 3), else undefined.
 */
export function nearestName(given: string, known: Iterable<string>): string | undefined {
  const lower = given.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const d = distance(lower, name.toLowerCase());
    if (!best || d < best.distance) best = { name, distance: d };
  }
  if (!best || best.distance === 0 && best.name === given) return undefined;
  return best.distance <= Math.min(3, Math.max(1, Math.floor(given.length / 3))) ? best.name : undefined;
}

/** " Did you mean X?" or nothing, to append to a fix. */
export function didYouMean(given: string, known: Iterable<string>): string {
  const nearest = nearestName(given, known);
  return nearest ? ` (did you mean ${nearest}?)` : '';
}
