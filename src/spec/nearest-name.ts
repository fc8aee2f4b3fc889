import { distance } from 'fastest-levenshtein';

/**
 * The known name closest to a misspelt one, for "did you mean ...?" in a problem's fix: only
 * when it is close (one starts the other, or an edit distance of at most a third of the name, and
 * 3), else undefined.
 */
export function nearestName(given: string, known: Iterable<string>): string | undefined {
  const lower = given.toLowerCase();
  const names = [...known];
  // A shortened or lengthened name ("cidr" for cidrBlock, "subnetCidr" for subnet) is far by edits but plain to see.
  const extended = names.find((name) => lower.length >= 3 && name.length >= 3 && name !== given && (name.toLowerCase().startsWith(lower) || lower.startsWith(name.toLowerCase())));
  if (extended) return extended;
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const d = distance(lower, name.toLowerCase());
    if (!best || d < best.distance) best = { name, distance: d };
  }
  if (!best || (best.distance === 0 && best.name === given)) return undefined;
  return best.distance <= Math.min(3, Math.max(1, Math.floor(given.length / 3))) ? best.name : undefined;
}

/** " Did you mean X?" or nothing, to append to a fix. */
export function didYouMean(given: string, known: Iterable<string>): string {
  const nearest = nearestName(given, known);
  return nearest ? ` (did you mean ${nearest}?)` : '';
}
