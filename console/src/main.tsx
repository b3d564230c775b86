import { render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { createApi, text, type Api, type Credentials } from "./aws.ts";
import { ErrorMessage, Status, useRoute } from "./ui.tsx";
import { SecretsPage } from "./secrets.tsx";
import { ParametersPage } from "./parameters.tsx";
import { AuditPage } from "./audit.tsx";
import { AccessPage } from "./access.tsx";

/** After this long without a key press or click, the console forgets the credentials and asks again. */
export const IDLE_MS = 15 * 60 * 1000;

interface Session {
  api: Api;
  arn: string;
  accountId: string;
}

function SignIn({ onSignedIn, notice }: { onSignedIn(s: Session): void; notice?: string }) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const credentials: Credentials = {
      accessKeyId: String(form.get("accessKeyId") ?? "").trim(),
      secretAccessKey: String(form.get("secretAccessKey") ?? "").trim(),
    };
    const token = String(form.get("sessionToken") ?? "").trim();
    if (token) credentials.sessionToken = token;
    setBusy(true);
    setError(undefined);
    try {
      const api = createApi(credentials);
      const who = await api.query("sts", "GetCallerIdentity");
      onSignedIn({ api, arn: text(who, "Arn"), accountId: text(who, "Account") });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <h1>Coffer console</h1>
      {notice && <Status>{notice}</Status>}
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Access key ID
          <input ref={first} name="accessKeyId" required autoComplete="off" spellcheck={false} />
        </label>
        <label>
          Secret access key
          <input name="secretAccessKey" type="password" required autoComplete="off" />
        </label>
        <label>
          Session token <span class="hint">(optional, for temporary credentials)</span>
          <input name="sessionToken" type="password" autoComplete="off" />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <ErrorMessage error={error} />
      <p class="hint">
        The keys stay in this tab's memory only; requests are signed here and sent to this server's AWS APIs, audited like any SDK call.
      </p>
    </main>
  );
}

const SECTIONS = [
  ["secrets", "Secrets"],
  ["parameters", "Parameters"],
  ["audit", "Audit"],
  ["access", "Access"],
] as const;

function Console({ session, onSignOut }: { session: Session; onSignOut(): void }) {
  const route = useRoute();
  const section = route[0] || "secrets";
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">Coffer</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map(([id, name]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={section === id ? "page" : undefined}>
                  {name}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p class="who" aria-label="Signed in as">
          Signed in as <strong>{session.arn}</strong>
        </p>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {section === "secrets" && <SecretsPage api={session.api} name={route[1]} />}
        {section === "parameters" && <ParametersPage api={session.api} name={route[1]} />}
        {section === "audit" && <AuditPage api={session.api} />}
        {section === "access" && <AccessPage api={session.api} />}
        {!SECTIONS.some(([id]) => id === section) && <p>No such page.</p>}
      </main>
    </>
  );
}

function App() {
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const lastActive = useRef(Date.now());

  const signOut = useCallback((why?: string) => {
    setSession(undefined);
    setNotice(why);
  }, []);

  useEffect(() => {
    if (!session) return;
    lastActive.current = Date.now();
    const touch = () => (lastActive.current = Date.now());
    const events = ["keydown", "pointerdown", "wheel"] as const;
    for (const e of events) window.addEventListener(e, touch, { passive: true });
    const timer = window.setInterval(() => {
      if (Date.now() - lastActive.current >= IDLE_MS) signOut("You were idle for 15 minutes, so the console forgot your keys. Sign in again.");
    }, 10_000);
    return () => {
      for (const e of events) window.removeEventListener(e, touch);
      window.clearInterval(timer);
    };
  }, [session, signOut]);

  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          setNotice(undefined);
          setSession(s);
          if (!window.location.hash) window.location.hash = "#/secrets";
        }}
      />
    );
  }
  return <Console session={session} onSignOut={() => signOut("Signed out. The console no longer holds your keys.")} />;
}

render(<App />, document.getElementById("app")!);
