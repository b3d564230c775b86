import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "./aws.ts";

/** An API error in words (role=alert, so a screen reader announces it). */
export function ErrorMessage({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p role="alert" class="error">
      {describeError(error)}
    </p>
  );
}

/** A success or progress note, announced politely. */
export function Status({ children }: { children?: ComponentChildren }) {
  return (
    <p role="status" class="status">
      {children}
    </p>
  );
}

/** Epoch seconds (the JSON protocols' timestamps) as a readable UTC time; "—" when absent. */
export function time(epoch: number | undefined): string {
  if (epoch === undefined || epoch === null) return "—";
  return new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/** Runs `load` when `deps` change (and on reload()); a stale answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  useEffect(() => {
    const id = ++run.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => id === run.current && setState({ data, loading: false }),
      (error: unknown) => id === run.current && setState({ error, loading: false }),
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** An action button's state: busy while it runs, its error or success note after. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const run = useCallback(async (action: () => Promise<string | undefined | void>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const note = await action();
      if (note) setDone(note);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, done, run };
}

/** The location hash as a path ("#/secrets/x" -> ["secrets", "x"]), updated on navigation. */
export function useRoute(): string[] {
  const read = () =>
    window.location.hash
      .replace(/^#\/?/, "")
      .split("/")
      .filter((p, i) => i === 0 || p !== "")
      .map((p) => decodeURIComponent(p));
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

/** Moves focus to a page's heading when it opens, so keyboard and screen-reader users land on the new page. */
/** A labelled drop-down of [value, text] options. */
export function Choice({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: string;
  options: readonly (readonly [string, string])[];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

export function PageHeading({ children }: { children?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h2 tabIndex={-1} ref={ref}>
      {children}
    </h2>
  );
}

/** A definition list of label/value pairs, skipping absent values. */
export function Facts({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v === undefined || v === null || v === "" ? "—" : v}</dd>
        </>
      ))}
    </dl>
  );
}

/** A JSON object's top-level keys and values as a table; anything else as text. */
export function ValueView({ value, label }: { value: string; label: string }) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    return (
      <table aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(parsed as Record<string, unknown>).map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td>
                <code>{typeof v === "string" ? v : JSON.stringify(v)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  return (
    <pre aria-label={label} class="value">
      {value}
    </pre>
  );
}

/** A pretty-printed JSON document (policies, events), or the text as it is. */
export function JsonBlock({ text, label }: { text: string | undefined; label: string }) {
  if (!text) return <p>None.</p>;
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // shown as it is
  }
  return (
    <pre aria-label={label} class="json" tabIndex={0}>
      {shown}
    </pre>
  );
}
