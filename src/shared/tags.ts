import { CofferError } from "./errors.ts";

interface KeyValue {
  key: string;
  value: string;
}

/**
 * Tags as every AWS tagging call merges them: a key given again takes its new value, the others
 * stay. With `max`, a result over it is LimitExceeded ("A <noun> can have at most <max> tags.").
 */
export function mergeTags<T extends KeyValue>(existing: readonly T[], added: readonly T[], max = Infinity, noun = "resource"): T[] {
  const merged = new Map(existing.map((t) => [t.key, t]));
  for (const t of added) merged.set(t.key, t);
  if (merged.size > max) throw new CofferError("LimitExceeded", `A ${noun} can have at most ${max} tags.`);
  return [...merged.values()];
}
