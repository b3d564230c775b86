import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { Command } from "commander";
import { ParameterCache } from "../client/parameter-cache.ts";
import { SecretCache } from "../client/secret-cache.ts";
import { clientTarget, withClientOptions, type ClientFlags } from "./client-options.ts";
import { checkBulkNames, type BulkVariable } from "./run-env-guard.ts";

/**
 * `coffer run --secret NAME=secretId[:json-key[:version-stage[:version-id]]]
 * --param NAME=parameterName --param-path /prefix/ --secret-json secretId -- cmd args...`: fetches
 * every value first (nothing starts if one fails), then runs the command
 * with them added to its environment, as ECS does with `secrets`/`valueFrom`.
 * No value is ever written to the terminal or into an error message.
 * Names that come from the data (a path's parameters, a secret's JSON keys)
 * are checked against run-env-guard.ts before anything starts.
 */

export interface SecretRef {
  kind: "secret";
  variable: string;
  secretId: string;
  jsonKey?: string;
  versionStage?: string;
  versionId?: string;
}

/** `--secret-json secretId[:version-stage[:version-id]]`: every top-level key of a JSON secret, as a variable. */
export interface SecretJsonRef {
  secretId: string;
  versionStage?: string;
  versionId?: string;
}

export interface ParameterRef {
  kind: "parameter";
  variable: string;
  name: string;
}

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function splitAssignment(flag: string, spec: string): [string, string] {
  const eq = spec.indexOf("=");
  const variable = eq < 0 ? "" : spec.slice(0, eq);
  const source = eq < 0 ? "" : spec.slice(eq + 1);
  if (!VARIABLE.test(variable) || source === "") {
    throw new Error(`${flag} takes NAME=source, with NAME a variable name (letters, digits, _), not "${spec.slice(0, 200)}"`);
  }
  return [variable, source];
}

/**
 * `NAME=valueFrom`, parsed the ECS way: an ARN's first seven colon-separated
 * fields are the secret (arn:aws:secretsmanager:region:account:secret:name-AbCdEf),
 * a name is everything up to the first colon; then json-key, version-stage,
 * version-id, each optional (empty = unset). An SSM parameter ARN reads the parameter.
 */
export function parseSecretSpec(spec: string): SecretRef | ParameterRef {
  const [variable, source] = splitAssignment("--secret", spec);
  const fields = source.split(":");
  if (source.startsWith("arn:") && fields[2] === "ssm") return { kind: "parameter", variable, name: source };
  const idFields = source.startsWith("arn:") ? 7 : 1;
  if (fields.length < idFields || fields.slice(0, idFields).some((f) => f === "")) {
    throw new Error(`--secret ${variable}: "${source}" is not a secret ARN (arn:aws:secretsmanager:region:account:secret:name)`);
  }
  const rest = fields.slice(idFields);
  if (rest.length > 3) throw new Error(`--secret ${variable}: too many fields after the secret id (json-key:version-stage:version-id)`);
  const [jsonKey, versionStage, versionId] = rest.map((f) => (f === "" ? undefined : f));
  return {
    kind: "secret",
    variable,
    secretId: fields.slice(0, idFields).join(":"),
    ...(jsonKey !== undefined ? { jsonKey } : {}),
    ...(versionStage !== undefined ? { versionStage } : {}),
    ...(versionId !== undefined ? { versionId } : {}),
  };
}

/** `secretId[:version-stage[:version-id]]`, the id read as `--secret` reads it (a name ends at the first colon, an ARN after its seventh field). */
export function parseSecretJsonSpec(spec: string): SecretJsonRef {
  const fields = spec.split(":");
  const idFields = spec.startsWith("arn:") ? 7 : 1;
  if (fields.length < idFields || fields.slice(0, idFields).some((f) => f === "")) {
    throw new Error(`--secret-json: "${spec.slice(0, 200)}" is not a secret name or ARN`);
  }
  const rest = fields.slice(idFields);
  if (rest.length > 2) throw new Error(`--secret-json: too many fields after the secret id (version-stage:version-id)`);
  const [versionStage, versionId] = rest.map((f) => (f === "" ? undefined : f));
  return {
    secretId: fields.slice(0, idFields).join(":"),
    ...(versionStage !== undefined ? { versionStage } : {}),
    ...(versionId !== undefined ? { versionId } : {}),
  };
}

export function parseParamSpec(spec: string): ParameterRef {
  const [variable, name] = splitAssignment("--param", spec);
  return { kind: "parameter", variable, name };
}

/** /prod/myapp/db/host under /prod/myapp/ -> DB_HOST: the rest of the path, upper-cased, non-alphanumerics as _. */
export function variableFor(prefix: string, name: string): string {
  const base = prefix.endsWith("/") ? prefix : prefix + "/";
  const rest = name.startsWith(base) ? name.slice(base.length) : name.replace(/^\/+/, "");
  return variableFrom(rest);
}

/** Upper-cased, every character that is not a letter or digit as _, a leading digit behind a _. */
export function variableFrom(text: string): string {
  const variable = text.replace(/[^A-Za-z0-9]/g, "_").toUpperCase();
  return /^[0-9]/.test(variable) ? "_" + variable : variable;
}

export interface RunPlan {
  refs: (SecretRef | ParameterRef)[];
  paramPaths: string[];
  secretJson?: SecretJsonRef[];
  /** Names a bulk source may set even though run-env-guard.ts refuses them. */
  allowEnv?: string[];
}

/**
 * Fetches everything in the plan. Variables from --param-path and
 * --secret-json come first, so an explicit --secret or --param of the same
 * name wins. Throws one error listing every failure (variable and source,
 * never a value), and refuses dangerous names from the bulk sources.
 */
export async function resolveEnvironment(
  plan: RunPlan,
  caches: { secrets: Pick<SecretCache, "getSecretString" | "getSecretJson">; parameters: Pick<ParameterCache, "getParameterValue" | "getParametersByPath"> },
): Promise<Record<string, string>> {
  const secretJson = plan.secretJson ?? [];
  const seen = new Set<string>();
  for (const ref of plan.refs) {
    if (seen.has(ref.variable)) throw new Error(`${ref.variable} is given more than once`);
    seen.add(ref.variable);
  }
  const failures: string[] = [];
  const fail = (what: string, err: unknown) => failures.push(`${what}: ${describe(err)}`);

  const fromPaths = await Promise.all(
    plan.paramPaths.map(async (path) => {
      try {
        return { path, parameters: await caches.parameters.getParametersByPath(path, { recursive: true }) };
      } catch (err) {
        fail(`--param-path ${path}`, err);
        return { path, parameters: [] };
      }
    }),
  );
  const fromJson = await Promise.all(
    secretJson.map(async (ref) => {
      try {
        const json = await caches.secrets.getSecretJson(ref.secretId, { versionStage: ref.versionStage, versionId: ref.versionId });
        if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("the secret is not a JSON object");
        return { ref, entries: Object.entries(json as Record<string, unknown>) };
      } catch (err) {
        fail(`--secret-json ${ref.secretId}`, err);
        return { ref, entries: [] };
      }
    }),
  );
  const env: Record<string, string> = {};
  const origin = new Map<string, string>();
  const bulk: BulkVariable[] = [];
  const setBulk = (variable: string, from: string, value: string, hint: string) => {
    if (variable === "" || seen.has(variable)) return;
    const earlier = origin.get(variable);
    if (earlier !== undefined && earlier !== from) {
      failures.push(`${earlier} and ${from} would both be ${variable}; ${hint}`);
      return;
    }
    origin.set(variable, from);
    bulk.push({ variable, origin: from });
    env[variable] = value;
  };
  for (const { path, parameters } of fromPaths) {
    for (const p of parameters) {
      if (p.Name === undefined || p.Value === undefined) continue;
      setBulk(variableFor(path, p.Name), p.Name, p.Value, "name one of them with --param");
    }
  }
  for (const { ref, entries } of fromJson) {
    for (const [key, value] of entries) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      setBulk(variableFrom(key), `key "${key.slice(0, 100)}" of secret ${ref.secretId}`, text, "name one of them with --secret NAME=id:key");
    }
  }

  await Promise.all(
    plan.refs.map(async (ref) => {
      try {
        env[ref.variable] = ref.kind === "parameter" ? await caches.parameters.getParameterValue(ref.name) : await secretValue(ref, caches.secrets);
      } catch (err) {
        fail(ref.kind === "parameter" ? `${ref.variable}: parameter ${ref.name}` : `${ref.variable}: secret ${ref.secretId}`, err);
      }
    }),
  );
  if (failures.length > 0) throw new Error(`not starting the command; could not read:\n  ${failures.sort().join("\n  ")}`);
  checkBulkNames(bulk, plan.allowEnv ?? []);
  return env;
}

async function secretValue(ref: SecretRef, secrets: Pick<SecretCache, "getSecretString" | "getSecretJson">): Promise<string> {
  const selector = { versionStage: ref.versionStage, versionId: ref.versionId };
  if (ref.jsonKey === undefined) return secrets.getSecretString(ref.secretId, selector);
  const json = await secrets.getSecretJson(ref.secretId, selector);
  if (typeof json !== "object" || json === null || Array.isArray(json) || !Object.hasOwn(json, ref.jsonKey)) {
    throw new Error(`the secret is not a JSON object with the key "${ref.jsonKey}"`);
  }
  const value = (json as Record<string, unknown>)[ref.jsonKey];
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** An SDK error's name and message (AWS messages name resources, not values); our own errors' message. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return "unknown error";
  return err.name && err.name !== "Error" ? `${err.name}: ${err.message}` : err.message;
}

/** Runs the command, forwarding signals; resolves to its exit code (128 + signal number if a signal ended it). */
export function runChild(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: "inherit", env });
    const forward = (signal: NodeJS.Signals) => () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = (code: number) => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      resolve(code);
    };
    child.once("error", (err: NodeJS.ErrnoException) => {
      process.stderr.write(`coffer run: cannot start ${command}: ${err.code ?? err.message}\n`);
      done(err.code === "ENOENT" ? 127 : 126);
    });
    child.once("exit", (code, signal) => done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}

interface RunFlags extends ClientFlags {
  secret: string[];
  param: string[];
  paramPath: string[];
  secretJson: string[];
  allowEnv: string[];
}

const collect = (value: string, all: string[]) => [...all, value];

export function registerRunCommand(program: Command): void {
  withClientOptions(program.command("run"), { output: false })
    .description("run a command with secrets and parameters in its environment (fetched first; never printed)")
    .argument("<command...>", "the command and its arguments, after --")
    .option("--secret <NAME=secretId[:json-key[:version-stage[:version-id]]]>", "a secret (or one JSON key of it), as ECS valueFrom; repeatable", collect, [])
    .option("--param <NAME=parameterName>", "a Parameter Store parameter (decrypted); repeatable", collect, [])
    .option("--param-path <path>", "every parameter under a path, as upper-cased names (/p/db/host -> DB_HOST); repeatable", collect, [])
    .option("--secret-json <secretId[:version-stage[:version-id]]>", "every top-level key of a JSON secret, as upper-cased names (db-host -> DB_HOST); repeatable", collect, [])
    .option("--allow-env <NAME>", "let --param-path/--secret-json set NAME although it can change how the command runs (PATH, LD_*, NODE_OPTIONS, …); repeatable", collect, [])
    .action(async (commandLine: string[], flags: RunFlags) => {
      const refs = [...flags.param.map(parseParamSpec), ...flags.secret.map(parseSecretSpec)];
      const target = clientTarget(flags);
      // One process, one read per value: no TTL games, no background refresh.
      const timings = { refreshAheadMs: 0, maxStaleMs: 0 };
      const secrets = new SecretCache({ ...timings, clientConfig: { ...target.config("secretsmanager"), customUserAgent: "coffer-run" } });
      const parameters = new ParameterCache({ ...timings, clientConfig: { ...target.config("ssm"), customUserAgent: "coffer-run" } });
      const secretJson = flags.secretJson.map(parseSecretJsonSpec);
      const env = await resolveEnvironment({ refs, paramPaths: flags.paramPath, secretJson, allowEnv: flags.allowEnv }, { secrets, parameters });
      const [command, ...args] = commandLine;
      process.exit(await runChild(command, args, { ...process.env, ...env }));
    });
}
