import { useState } from "preact/hooks";
import { members, text, type Api } from "./aws.ts";
import { ErrorMessage, JsonBlock, Status, useLoad } from "./ui.tsx";

/** IAM, read-only: users, roles and their inline policies (docs/console.md). */

interface Principal {
  kind: "user" | "role";
  name: string;
  arn: string;
  created: string;
  trust?: string;
}

/** IAM returns policy documents URL-encoded. */
function decodeDocument(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function listAll(api: Api, action: "ListUsers" | "ListRoles"): Promise<Principal[]> {
  const out: Principal[] = [];
  let marker: string | undefined;
  do {
    const doc = await api.query("iam", action, marker ? { Marker: marker } : {});
    for (const m of members(doc, action === "ListUsers" ? "Users" : "Roles")) {
      const user = action === "ListUsers";
      out.push({
        kind: user ? "user" : "role",
        name: text(m, user ? "UserName" : "RoleName"),
        arn: text(m, "Arn"),
        created: text(m, "CreateDate"),
        trust: user ? undefined : decodeDocument(text(m, "AssumeRolePolicyDocument")),
      });
    }
    marker = text(doc, "IsTruncated") === "true" ? text(doc, "Marker") : undefined;
  } while (marker);
  return out;
}

export function AccessPage({ api }: { api: Api }) {
  const all = useLoad(async () => {
    const [users, roles] = await Promise.all([listAll(api, "ListUsers"), listAll(api, "ListRoles")]);
    return { users, roles };
  }, []);
  const [selected, setSelected] = useState<Principal | undefined>(undefined);

  const table = (label: string, rows: Principal[]) => (
    <table aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">ARN</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((p) => (
          <tr key={p.arn}>
            <td>
              <button type="button" class="link" aria-pressed={selected?.arn === p.arn} onClick={() => setSelected(p)}>
                {p.name}
              </button>
            </td>
            <td>
              <code>{p.arn}</code>
            </td>
            <td>{p.created}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );

  return (
    <section aria-labelledby="access-heading">
      <h2 id="access-heading">Access</h2>
      <p class="hint">Read-only. Change users, roles and policies with the IAM API (the AWS CLI, the SDK or Terraform).</p>
      <ErrorMessage error={all.error} />
      {all.loading && <Status>Loading users and roles…</Status>}
      {all.data && (
        <div class="columns">
          <div>
            <h3>Users</h3>
            {table("Users", all.data.users)}
            <h3>Roles</h3>
            {table("Roles", all.data.roles)}
          </div>
          <div>{selected && <Policies api={api} principal={selected} />}</div>
        </div>
      )}
    </section>
  );
}

function Policies({ api, principal }: { api: Api; principal: Principal }) {
  const user = principal.kind === "user";
  const policies = useLoad(async () => {
    const nameKey = user ? "UserName" : "RoleName";
    const list = await api.query("iam", user ? "ListUserPolicies" : "ListRolePolicies", { [nameKey]: principal.name });
    const names = members(list, "PolicyNames").map((m) => m.textContent ?? "");
    return Promise.all(
      names.map(async (name) => {
        const doc = await api.query("iam", user ? "GetUserPolicy" : "GetRolePolicy", { [nameKey]: principal.name, PolicyName: name });
        return { name, document: decodeDocument(text(doc, "PolicyDocument")) };
      }),
    );
  }, [principal.arn]);
  return (
    <section aria-label={`Policies of ${principal.name}`}>
      <h3>
        {user ? "User" : "Role"} {principal.name}
      </h3>
      {principal.trust && (
        <>
          <h4>Trust policy</h4>
          <JsonBlock text={principal.trust} label={`Trust policy of ${principal.name}`} />
        </>
      )}
      <h4>Inline policies</h4>
      <ErrorMessage error={policies.error} />
      {policies.data?.length === 0 && <p>None.</p>}
      {policies.data?.map((p) => (
        <div key={p.name}>
          <h5>{p.name}</h5>
          <JsonBlock text={p.document} label={`Policy ${p.name}`} />
        </div>
      ))}
    </section>
  );
}
