import type { SecretRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { ListFilter, ListSecretsInput, Page } from "./secrets-types.ts";
import { offsetPage } from "../../shared/paging-token.ts";

/**
 * ListSecrets filtering, sorting and paging as AWS documents them: values in
 * one filter are alternatives, filters all apply; a leading "!" negates a
 * value; description and "all" match case-insensitively.
 */
export function matchesFilters(secret: SecretRecord, filters: ListFilter[], primaryRegion: string): boolean {
  return filters.every((f) => {
    const positive = f.values.filter((v) => !v.startsWith("!"));
    const negative = f.values.filter((v) => v.startsWith("!")).map((v) => v.slice(1));
    if (negative.some((v) => matchesValue(secret, f.key, v, primaryRegion))) return false;
    return positive.length === 0 || positive.some((v) => matchesValue(secret, f.key, v, primaryRegion));
  });
}

function matchesValue(secret: SecretRecord, key: ListFilter["key"], value: string, primaryRegion: string): boolean {
  const prefix = (candidates: (string | undefined)[], fold = false) =>
    candidates.some((c) =>
      c === undefined ? false : fold ? c.toLowerCase().startsWith(value.toLowerCase()) : c.startsWith(value),
    );
  switch (key) {
    case "name":
      return prefix([secret.name]);
    case "description":
      return prefix([secret.description], true);
    case "tag-key":
      return prefix(secret.tags.map((t) => t.key));
    case "tag-value":
      return prefix(secret.tags.map((t) => t.value));
    case "primary-region":
      return prefix([secret.replication?.primaryRegion ?? primaryRegion]);
    case "owning-service":
      return false; // Coffer has no service-owned secrets.
    case "all": {
      const words = value.toLowerCase().split(/\s+/).filter(Boolean);
      const haystack = [secret.name, secret.description ?? "", primaryRegion, ...secret.tags.flatMap((t) => [t.key, t.value])]
        .join(" ")
        .toLowerCase()
        .split(/[\s/_+=.@-]+/);
      return words.every((w) => haystack.some((h) => h.startsWith(w)));
    }
  }
}

const sortKeys: Record<NonNullable<ListSecretsInput["sortBy"]>, (s: SecretRecord) => string | number> = {
  "created-date": (s) => s.createdAt,
  "last-accessed-date": (s) => s.lastAccessedAt ?? 0,
  "last-changed-date": (s) => s.lastChangedAt,
  name: (s) => s.name,
};

export function sortSecrets(secrets: SecretRecord[], input: ListSecretsInput): SecretRecord[] {
  const key = sortKeys[input.sortBy ?? "created-date"];
  const sign = input.sortOrder === "desc" ? -1 : 1;
  return [...secrets].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    const byKey = ka < kb ? -1 : ka > kb ? 1 : 0;
    return sign * (byKey || (a.arn < b.arn ? -1 : a.arn > b.arn ? 1 : 0));
  });
}

/** Offset paging with an opaque token; a token that was not issued here is InvalidNextToken. */
export function paginate<T>(items: T[], maxResults: number, nextToken: string | undefined): Page<T> {
  const page = offsetPage(items, maxResults, nextToken);
  if (!page) throw new CofferError("InvalidNextToken", "The NextToken value is invalid.");
  return page.next === undefined ? { items: page.items } : { items: page.items, nextToken: page.next };
}
