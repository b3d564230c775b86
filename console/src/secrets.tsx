import { useEffect, useState } from "preact/hooks";
import type { Api, Json } from "./aws.ts";
import { Choice, ErrorMessage, Facts, JsonBlock, PageHeading, Status, ValueView, href, time, useAction, useLoad } from "./ui.tsx";

/** Secrets Manager: ListSecrets with search, sort and paging; a page per secret (docs/console.md). */
export function SecretsPage({ api, name }: { api: Api; name?: string }) {
  return name ? <SecretPage api={api} name={name} /> : <SecretList api={api} />;
}

const FILTER_KEYS = [
  ["all", "Name, description and tags"],
  ["name", "Name"],
  ["description", "Description"],
  ["tag-key", "Tag key"],
  ["tag-value", "Tag value"],
] as const;

const SORTS = [
  ["name", "Name"],
  ["created-date", "Created"],
  ["last-changed-date", "Last changed"],
  ["last-accessed-date", "Last accessed"],
] as const;

const ORDERS = [
  ["asc", "Ascending"],
  ["desc", "Descending"],
] as const;

const PAGE_SIZES = ["10", "25", "50", "100"].map((n) => [n, n] as const);

function SecretList({ api }: { api: Api }) {
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [filterKey, setFilterKey] = useState("all");
  const [sortBy, setSortBy] = useState("name");
  const [sortOrder, setSortOrder] = useState("asc");
  const [pageSize, setPageSize] = useState(25);
  // Tokens of the pages before this one (paging back), and this page's.
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const [creating, setCreating] = useState(false);

  // Search as one types, once typing pauses.
  useEffect(() => {
    const t = window.setTimeout(() => setQuery(search.trim()), 300);
    return () => window.clearTimeout(t);
  }, [search]);
  useEffect(() => setTokens([undefined]), [query, filterKey, sortBy, sortOrder, pageSize]);

  const token = tokens[tokens.length - 1];
  const list = useLoad(
    () =>
      api.json("secretsmanager", "ListSecrets", {
        MaxResults: pageSize,
        SortBy: sortBy,
        SortOrder: sortOrder,
        ...(query ? { Filters: [{ Key: filterKey, Values: [query] }] } : {}),
        ...(token ? { NextToken: token } : {}),
      }),
    [query, filterKey, sortBy, sortOrder, pageSize, token],
  );
  const secrets = (list.data?.SecretList ?? []) as Json[];

  return (
    <section aria-labelledby="secrets-heading">
      <div class="bar">
        <h2 id="secrets-heading">Secrets</h2>
        <button type="button" onClick={() => setCreating(true)} aria-expanded={creating}>
          Create secret
        </button>
      </div>
      {creating && <CreateSecret api={api} onCancel={() => setCreating(false)} />}
      <form class="filters" role="search" aria-label="Find secrets" onSubmit={(e) => (e.preventDefault(), setQuery(search.trim()))}>
        <label>
          Search
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <Choice label="Search in" value={filterKey} options={FILTER_KEYS} onChange={setFilterKey} />
        <Choice label="Sort by" value={sortBy} options={SORTS} onChange={setSortBy} />
        <Choice label="Order" value={sortOrder} options={ORDERS} onChange={setSortOrder} />
        <Choice label="Per page" value={String(pageSize)} options={PAGE_SIZES} onChange={(n) => setPageSize(Number(n))} />
      </form>
      <ErrorMessage error={list.error} />
      {list.loading && <Status>Loading secrets…</Status>}
      <table aria-label="Secrets">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Description</th>
            <th scope="col">Last changed</th>
            <th scope="col">Last rotated</th>
            <th scope="col">Tags</th>
          </tr>
        </thead>
        <tbody>
          {secrets.map((s) => (
            <tr key={s.ARN}>
              <td>
                <a href={href("secrets", s.Name)}>{s.Name}</a>
                {s.DeletedDate && <span class="badge"> scheduled for deletion</span>}
              </td>
              <td>{s.Description ?? ""}</td>
              <td>{time(s.LastChangedDate)}</td>
              <td>{time(s.LastRotatedDate)}</td>
              <td>{((s.Tags ?? []) as Json[]).map((t) => `${t.Key}=${t.Value}`).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!list.loading && !list.error && secrets.length === 0 && <p>No secrets{query ? " match the search" : " yet"}.</p>}
      <nav class="pager" aria-label="Pages of secrets">
        <button type="button" disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {tokens.length}</span>
        <button type="button" disabled={!list.data?.NextToken} onClick={() => setTokens([...tokens, list.data!.NextToken as string])}>
          Next page
        </button>
      </nav>
    </section>
  );
}

function CreateSecret({ api, onCancel }: { api: Api; onCancel(): void }) {
  const action = useAction();
  const [generate, setGenerate] = useState(false);
  return (
    <form
      class="panel"
      aria-label="Create secret"
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        const name = String(f.get("name")).trim();
        void action.run(async () => {
          let value = String(f.get("value") ?? "");
          if (generate) {
            const r = await api.json("secretsmanager", "GetRandomPassword", {
              PasswordLength: Number(f.get("length") || 32),
              ExcludePunctuation: f.get("punctuation") !== "on",
            });
            value = r.RandomPassword as string;
          }
          const tags = String(f.get("tags") ?? "")
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean)
            .map((l) => {
              const eq = l.indexOf("=");
              return eq < 0 ? { Key: l, Value: "" } : { Key: l.slice(0, eq).trim(), Value: l.slice(eq + 1).trim() };
            });
          const description = String(f.get("description") ?? "").trim();
          await api.json("secretsmanager", "CreateSecret", {
            Name: name,
            SecretString: value,
            ...(description ? { Description: description } : {}),
            ...(tags.length ? { Tags: tags } : {}),
          });
          window.location.hash = href("secrets", name);
        });
      }}
    >
      <h3>Create secret</h3>
      <label>
        Secret name
        <input name="name" required maxLength={512} autoFocus />
      </label>
      <label>
        Description
        <input name="description" maxLength={2048} />
      </label>
      <label class="check">
        <input type="checkbox" checked={generate} onChange={(e) => setGenerate(e.currentTarget.checked)} />
        Generate a password
      </label>
      {generate ? (
        <>
          <label>
            Password length
            <input name="length" type="number" min={8} max={4096} value="32" />
          </label>
          <label class="check">
            <input name="punctuation" type="checkbox" defaultChecked />
            Include punctuation
          </label>
        </>
      ) : (
        <label>
          Secret value
          <textarea name="value" required rows={4} spellcheck={false} autoComplete="off" />
        </label>
      )}
      <label>
        Tags <span class="hint">(key=value, one per line)</span>
        <textarea name="tags" rows={2} spellcheck={false} />
      </label>
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          Create
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorMessage error={action.error} />
    </form>
  );
}

function SecretPage({ api, name }: { api: Api; name: string }) {
  const secret = useLoad(
    async () => {
      const [description, policy, versions] = await Promise.all([
        api.json("secretsmanager", "DescribeSecret", { SecretId: name }),
        api.json("secretsmanager", "GetResourcePolicy", { SecretId: name }).catch((err: unknown) => ({ error: err })),
        api.json("secretsmanager", "ListSecretVersionIds", { SecretId: name, IncludeDeprecated: true }).catch((err: unknown) => ({ error: err })),
      ]);
      return { description, policy, versions };
    },
    [name],
  );
  const d = secret.data?.description;

  return (
    <section aria-labelledby="secret-heading">
      <p>
        <a href="#/secrets">← All secrets</a>
      </p>
      <PageHeading>
        <span id="secret-heading">Secret {name}</span>
      </PageHeading>
      <ErrorMessage error={secret.error} />
      {d && (
        <>
          <Facts
            rows={[
              ["ARN", <code>{d.ARN}</code>],
              ["Description", d.Description],
              ["Encryption key", d.KmsKeyId ?? "default"],
              ["Created", time(d.CreatedDate)],
              ["Last changed", time(d.LastChangedDate)],
              ["Last accessed", time(d.LastAccessedDate)],
              ["Scheduled for deletion on", d.DeletedDate ? time(d.DeletedDate) : undefined],
              ["Primary region", d.PrimaryRegion],
            ]}
          />
          <SecretValue api={api} name={name} />
          <PutValue api={api} name={name} onStored={secret.reload} />

          <h3>Versions</h3>
          <Versions stages={d.VersionIdsToStages ?? {}} listed={secret.data!.versions} />

          <h3>Tags</h3>
          {(d.Tags ?? []).length === 0 ? (
            <p>None.</p>
          ) : (
            <table aria-label="Tags">
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {(d.Tags as Json[]).map((t) => (
                  <tr key={t.Key}>
                    <td>{t.Key}</td>
                    <td>{t.Value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h3>Rotation</h3>
          <Facts
            rows={[
              ["Rotation", d.RotationEnabled ? "enabled" : "not enabled"],
              ["Schedule", d.RotationRules?.ScheduleExpression ?? (d.RotationRules?.AutomaticallyAfterDays ? `every ${d.RotationRules.AutomaticallyAfterDays} days` : undefined)],
              ["Rotation function", d.RotationLambdaARN],
              ["Last rotated", time(d.LastRotatedDate)],
              ["Next rotation", time(d.NextRotationDate)],
            ]}
          />
          <Rotate api={api} name={name} onRotated={secret.reload} />

          <h3>Resource policy</h3>
          {"error" in secret.data!.policy ? <ErrorMessage error={secret.data!.policy.error} /> : <JsonBlock text={secret.data!.policy.ResourcePolicy} label="Resource policy" />}

          <h3>Replication</h3>
          {(d.ReplicationStatus ?? []).length === 0 ? (
            <p>Not replicated.</p>
          ) : (
            <table aria-label="Replication">
              <thead>
                <tr>
                  <th scope="col">Region</th>
                  <th scope="col">Status</th>
                  <th scope="col">Message</th>
                  <th scope="col">Last accessed</th>
                </tr>
              </thead>
              <tbody>
                {(d.ReplicationStatus as Json[]).map((r) => (
                  <tr key={r.Region}>
                    <td>{r.Region}</td>
                    <td>{r.Status}</td>
                    <td>{r.StatusMessage ?? ""}</td>
                    <td>{time(r.LastAccessedDate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h3>Deletion</h3>
          <Deletion api={api} name={name} deleted={Boolean(d.DeletedDate)} onChanged={secret.reload} />
        </>
      )}
    </section>
  );
}

function Versions({ stages, listed }: { stages: Record<string, string[]>; listed: Json }) {
  const rows: Json[] = "error" in listed ? Object.entries(stages).map(([VersionId, VersionStages]) => ({ VersionId, VersionStages })) : (listed.Versions ?? []);
  return (
    <>
      {"error" in listed && <ErrorMessage error={listed.error} />}
      <table aria-label="Versions">
        <thead>
          <tr>
            <th scope="col">Version ID</th>
            <th scope="col">Staging labels</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {[...rows]
            .sort((a, b) => (b.CreatedDate ?? 0) - (a.CreatedDate ?? 0))
            .map((v) => (
              <tr key={v.VersionId}>
                <td>
                  <code>{v.VersionId}</code>
                </td>
                <td>{((v.VersionStages ?? []) as string[]).join(", ") || "none (deprecated)"}</td>
                <td>{time(v.CreatedDate)}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </>
  );
}

function SecretValue({ api, name }: { api: Api; name: string }) {
  const [value, setValue] = useState<Json | undefined>(undefined);
  const action = useAction();
  return (
    <div class="panel" aria-label="Secret value" role="group">
      <h3>Secret value</h3>
      {value ? (
        <>
          <p>
            Version <code>{value.VersionId}</code> ({(value.VersionStages ?? []).join(", ")})
          </p>
          {value.SecretString !== undefined ? <ValueView value={value.SecretString} label="Secret value" /> : <p>Binary value ({String(value.SecretBinary).length} base64 characters).</p>}
          <button type="button" onClick={() => setValue(undefined)}>
            Hide secret value
          </button>
        </>
      ) : (
        <>
          <p>The value is hidden. Retrieving it is recorded in the audit trail.</p>
          <button type="button" disabled={action.busy} onClick={() => action.run(async () => setValue(await api.json("secretsmanager", "GetSecretValue", { SecretId: name })))}>
            Retrieve secret value
          </button>
        </>
      )}
      <ErrorMessage error={action.error} />
    </div>
  );
}

function PutValue({ api, name, onStored }: { api: Api; name: string; onStored(): void }) {
  const action = useAction();
  return (
    <form
      class="panel"
      aria-label="Store a new value"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const value = String(new FormData(form).get("value") ?? "");
        void action.run(async () => {
          const r = await api.json("secretsmanager", "PutSecretValue", { SecretId: name, SecretString: value });
          form.reset();
          onStored();
          return `Stored version ${r.VersionId as string}; it is now AWSCURRENT.`;
        });
      }}
    >
      <h3>Store a new value</h3>
      <label>
        New secret value
        <textarea name="value" required rows={3} spellcheck={false} autoComplete="off" />
      </label>
      <button type="submit" disabled={action.busy}>
        Store new value
      </button>
      <ErrorMessage error={action.error} />
      {action.done && <Status>{action.done}</Status>}
    </form>
  );
}

function Rotate({ api, name, onRotated }: { api: Api; name: string; onRotated(): void }) {
  const action = useAction();
  return (
    <div>
      <button
        type="button"
        disabled={action.busy}
        onClick={() =>
          action.run(async () => {
            const r = await api.json("secretsmanager", "RotateSecret", { SecretId: name, RotateImmediately: true });
            onRotated();
            return `Rotation started: version ${r.VersionId as string}.`;
          })
        }
      >
        Rotate now
      </button>
      <ErrorMessage error={action.error} />
      {action.done && <Status>{action.done}</Status>}
    </div>
  );
}

function Deletion({ api, name, deleted, onChanged }: { api: Api; name: string; deleted: boolean; onChanged(): void }) {
  const action = useAction();
  if (deleted) {
    return (
      <div>
        <p>This secret is scheduled for deletion; until then it can be restored.</p>
        {action.done && <Status>{action.done}</Status>}
        <button type="button" disabled={action.busy} onClick={() => action.run(async () => (await api.json("secretsmanager", "RestoreSecret", { SecretId: name }), onChanged(), "Restored."))}>
          Restore secret
        </button>
        <ErrorMessage error={action.error} />
      </div>
    );
  }
  return (
    <form
      aria-label="Delete secret"
      onSubmit={(e) => {
        e.preventDefault();
        const days = Number(new FormData(e.currentTarget).get("days"));
        void action.run(async () => {
          const r = await api.json("secretsmanager", "DeleteSecret", { SecretId: name, RecoveryWindowInDays: days });
          onChanged();
          return `Scheduled for deletion on ${time(r.DeletionDate)}.`;
        });
      }}
    >
      <label>
        Recovery window (days)
        <input name="days" type="number" min={7} max={30} value="30" required />
      </label>
      <button type="submit" class="danger" disabled={action.busy}>
        Delete secret
      </button>
      <ErrorMessage error={action.error} />
      {action.done && <Status>{action.done}</Status>}
    </form>
  );
}
