/**
 * Names the operator may have mistyped: config file keys and COFFER_*
 * variables that no setting reads. A typo must not pass silently (the
 * setting would keep its default), so an unknown key stops the start and an
 * unknown variable is a warning, each with the nearest valid name.
 */

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) d[0][j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[s.length][t.length];
}

/** The valid name nearest to `name`, if one is close enough to be what was meant (at most a third of it differs). */
export function nearestName(name: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of valid) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.ceil(name.length / 3)) ? best : undefined;
}

/** "unknown … "x"" plus the suggestion, or the list of valid names when none is near. */
export function unknownNameMessage(what: string, name: string, valid: readonly string[]): string {
  const near = nearestName(name, valid);
  const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
  return near ? `Unknown ${what} "${shown}": did you mean "${near}"?` : `Unknown ${what} "${shown}"; valid ones: ${valid.join(", ")}.`;
}
