import { useState } from "preact/hooks";
import type { Api, Json } from "./aws.ts";
import { ErrorMessage, Facts, PageHeading, Status, href, time, useAction, useLoad } from "./ui.tsx";

/** Parameter Store: a tree by path (GetParametersByPath), a page per parameter (docs/console.md). */
export function ParametersPage({ api, name }: { api: Api; name?: string }) {
  return name ? <ParameterPage api={api} name={name} /> : <ParameterTree api={api} />;
}

interface Folder {
  folders: Map<string, Folder>;
  parameters: Json[];
}

function place(root: Folder, p: Json, under: string) {
  const rest = (p.Name as string).slice(under.length).replace(/^\//, "");
  const parts = rest.split("/");
  let at = root;
  for (const part of parts.slice(0, -1)) {
    let next = at.folders.get(part);
    if (!next) at.folders.set(part, (next = { folders: new Map(), parameters: [] }));
    at = next;
  }
  at.parameters.push(p);
}

async function loadTree(api: Api, path: string): Promise<{ root: Folder; truncated: boolean }> {
  const root: Folder = { folders: new Map(), parameters: [] };
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await api.json("ssm", "GetParametersByPath", { Path: path, Recursive: true, MaxResults: 10, ...(token ? { NextToken: token } : {}) });
    for (const p of (r.Parameters ?? []) as Json[]) place(root, p, path === "/" ? "" : path);
    token = r.NextToken as string | undefined;
    pages += 1;
  } while (token && pages < 100);
  return { root, truncated: Boolean(token) };
}

function FolderView({ folder, path }: { folder: Folder; path: string }) {
  return (
    <ul class="tree">
      {[...folder.folders.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, sub]) => (
          <li key={name}>
            <details>
              <summary>{name}/</summary>
              <FolderView folder={sub} path={`${path}/${name}`} />
            </details>
          </li>
        ))}
      {[...folder.parameters]
        .sort((a, b) => String(a.Name).localeCompare(String(b.Name)))
        .map((p) => (
          <li key={p.Name}>
            <a href={href("parameters", String(p.Name))} aria-label={`${p.Name}`}>
              {String(p.Name).split("/").pop()}
            </a>{" "}
            <span class="hint">
              {p.Type}, version {p.Version}
            </span>
          </li>
        ))}
    </ul>
  );
}

function ParameterTree({ api }: { api: Api }) {
  const [path, setPath] = useState("/");
  const tree = useLoad(() => loadTree(api, path), [path]);
  return (
    <section aria-labelledby="parameters-heading">
      <h2 id="parameters-heading">Parameters</h2>
      <form
        class="filters"
        aria-label="Browse by path"
        onSubmit={(e) => {
          e.preventDefault();
          const p = String(new FormData(e.currentTarget).get("path") ?? "/").trim() || "/";
          setPath(p.startsWith("/") ? p : `/${p}`);
        }}
      >
        <label>
          Path
          <input name="path" defaultValue={path} />
        </label>
        <button type="submit">Browse</button>
      </form>
      <ErrorMessage error={tree.error} />
      {tree.loading && <Status>Loading parameters…</Status>}
      {tree.data && (
        <nav aria-label="Parameter tree">
          {tree.data.root.folders.size === 0 && tree.data.root.parameters.length === 0 ? <p>No parameters under {path}.</p> : <FolderView folder={tree.data.root} path={path === "/" ? "" : path} />}
          {tree.data.truncated && <p>Only the first 1000 parameters are shown; browse a deeper path to see more.</p>}
        </nav>
      )}
      <CreateParameter api={api} onCreated={tree.reload} />
    </section>
  );
}

function CreateParameter({ api, onCreated }: { api: Api; onCreated(): void }) {
  const action = useAction();
  return (
    <form
      class="panel"
      aria-label="Create parameter"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = new FormData(form);
        void action.run(async () => {
          const name = String(f.get("name")).trim();
          const description = String(f.get("description") ?? "").trim();
          await api.json("ssm", "PutParameter", {
            Name: name,
            Value: String(f.get("value")),
            Type: String(f.get("type")),
            ...(description ? { Description: description } : {}),
          });
          form.reset();
          onCreated();
          return `Created ${name}.`;
        });
      }}
    >
      <h3>Create parameter</h3>
      <label>
        Parameter name
        <input name="name" required maxLength={2048} placeholder="/app/prod/db/host" />
      </label>
      <label>
        Type
        <select name="type">
          <option value="String">String</option>
          <option value="StringList">StringList</option>
          <option value="SecureString">SecureString</option>
        </select>
      </label>
      <label>
        Parameter value
        <textarea name="value" required rows={2} spellcheck={false} autoComplete="off" />
      </label>
      <label>
        Parameter description
        <input name="description" maxLength={1024} />
      </label>
      <button type="submit" disabled={action.busy}>
        Create parameter
      </button>
      <ErrorMessage error={action.error} />
      {action.done && <Status>{action.done}</Status>}
    </form>
  );
}

function ParameterPage({ api, name }: { api: Api; name: string }) {
  const data = useLoad(async () => {
    const p = await api.json("ssm", "GetParameter", { Name: name, WithDecryption: false });
    const history: Json[] = [];
    let token: string | undefined;
    do {
      const h = await api.json("ssm", "GetParameterHistory", { Name: p.Parameter.Name, MaxResults: 50, ...(token ? { NextToken: token } : {}) });
      history.push(...((h.Parameters ?? []) as Json[]));
      token = h.NextToken as string | undefined;
    } while (token && history.length < 500);
    return { parameter: p.Parameter as Json, history };
  }, [name]);
  const p = data.data?.parameter;
  const secure = p?.Type === "SecureString";

  return (
    <section>
      <p>
        <a href="#/parameters">← All parameters</a>
      </p>
      <PageHeading>Parameter {name}</PageHeading>
      <ErrorMessage error={data.error} />
      {p && (
        <>
          <Facts
            rows={[
              ["ARN", <code>{p.ARN}</code>],
              ["Type", p.Type],
              ["Version", String(p.Version)],
              ["Last modified", time(p.LastModifiedDate)],
              ["Data type", p.DataType],
            ]}
          />
          {secure ? <SecureValue api={api} name={p.Name} /> : <ParameterValue value={p.Value} />}
          <Overwrite api={api} name={p.Name} type={p.Type} onStored={data.reload} />
          <h3>History</h3>
          <table aria-label="History">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Labels</th>
                <th scope="col">Last modified</th>
                <th scope="col">Modified by</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {[...data.data!.history].reverse().map((h) => (
                <tr key={h.Version}>
                  <td>{h.Version}</td>
                  <td>{((h.Labels ?? []) as string[]).join(", ")}</td>
                  <td>{time(h.LastModifiedDate)}</td>
                  <td>{h.LastModifiedUser ?? ""}</td>
                  <td>{h.Description ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function ParameterValue({ value }: { value: string }) {
  return (
    <div class="panel" role="group" aria-label="Parameter value">
      <h3>Value</h3>
      <pre class="value">{value}</pre>
    </div>
  );
}

function SecureValue({ api, name }: { api: Api; name: string }) {
  const [value, setValue] = useState<string | undefined>(undefined);
  const action = useAction();
  return (
    <div class="panel" role="group" aria-label="Parameter value">
      <h3>Value</h3>
      {value !== undefined ? (
        <>
          <pre class="value" aria-label="Decrypted value">
            {value}
          </pre>
          <button type="button" onClick={() => setValue(undefined)}>
            Hide parameter value
          </button>
        </>
      ) : (
        <>
          <p>A SecureString: hidden until asked. Decrypting it is recorded in the audit trail.</p>
          <button
            type="button"
            disabled={action.busy}
            onClick={() => action.run(async () => setValue((await api.json("ssm", "GetParameter", { Name: name, WithDecryption: true })).Parameter.Value as string))}
          >
            Show parameter value
          </button>
        </>
      )}
      <ErrorMessage error={action.error} />
    </div>
  );
}

function Overwrite({ api, name, type, onStored }: { api: Api; name: string; type: string; onStored(): void }) {
  const action = useAction();
  return (
    <form
      class="panel"
      aria-label="Overwrite parameter"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const value = String(new FormData(form).get("value") ?? "");
        void action.run(async () => {
          const r = await api.json("ssm", "PutParameter", { Name: name, Value: value, Type: type, Overwrite: true });
          form.reset();
          onStored();
          return `Stored version ${r.Version as number}.`;
        });
      }}
    >
      <h3>Overwrite</h3>
      <label>
        New parameter value
        <textarea name="value" required rows={2} spellcheck={false} autoComplete="off" />
      </label>
      <button type="submit" disabled={action.busy}>
        Overwrite
      </button>
      <ErrorMessage error={action.error} />
      {action.done && <Status>{action.done}</Status>}
    </form>
  );
}
