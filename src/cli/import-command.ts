import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { parseEnv } from "node:util";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretCommand,
  paginateListSecrets,
  type DescribeSecretCommandOutput,
  type RotationRulesType,
  type Tag,
} from "@aws-sdk/client-secrets-manager";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { SingleBar } from "cli-progress";
import { Option, type Command } from "commander";
import { ConfigError } from "../app/config.ts";
import { lambdaArn } from "../shared/arn.ts";
import { clientTarget, withClientOptions, type ClientFlags } from "./client-options.ts";
import { print } from "./output.ts";

/**
 * `coffer import`: brings existing secrets into a Coffer server over its
 * API, as the signed-in principal (issue 15, item 7). Three sources: a .env
 * file, a JSON export, and another Secrets Manager endpoint (AWS itself
 * included). Running it twice changes nothing the second time: a secret
 * that exists gets a new version only when its value differs, and its
 * description, tags and rotation only where they differ.
 */

type Value = { SecretString: string } | { SecretBinary: Uint8Array };

interface Item {
  name: string;
  /** Fetched when the secret's turn comes (a remote source is read one secret at a time). */
  value(): Promise<Value | undefined>;
  description?: string;
  tags?: Tag[];
  rotation?: { functionName: string; rules?: RotationRulesType };
}

interface Source {
  label: string;
  items: Item[];
}

type Outcome = "created" | "updated" | "unchanged";

interface Summary {
  Source: string;
  Created: string[];
  Updated: string[];
  Unchanged: string[];
  Failed: { Name: string; Error: string }[];
  Notes: { Name: string; Note: string }[];
}

/** One secret per variable (named prefix + variable), or, with `name`, one JSON secret holding them all. */
export function envSource(file: string, opts: { prefix?: string; name?: string }): Source {
  const vars = parseEnv(readSource(file));
  const entries = Object.entries(vars);
  if (entries.length === 0) throw new ConfigError(`${file} has no variables (NAME=value lines).`);
  const items: Item[] = opts.name
    ? [{ name: opts.name, value: async () => ({ SecretString: JSON.stringify(vars) }) }]
    : entries.map(([key, value]) => ({ name: `${opts.prefix ?? ""}${key}`, value: async () => ({ SecretString: value ?? "" }) }));
  return { label: file, items };
}

/**
 * A JSON export: an array of secrets (or `{"SecretList": [...]}`) named as the
 * API names them (Name, SecretString or SecretBinary in base64, Description,
 * Tags), or a plain object of name → value (an object value is stored as JSON).
 */
export function jsonSource(file: string, opts: { prefix?: string }): Source {
  const text = readSource(file);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : isObject(doc) && Array.isArray(doc.SecretList) ? doc.SecretList : undefined;
  const entries: Item[] = list
    ? list.map((entry, i) => exportedSecret(entry, `${file}: entry ${i + 1}`))
    : isObject(doc)
      ? Object.entries(doc).map(([name, value]) => {
          if (value === null || typeof value === "number" || typeof value === "boolean") value = String(value);
          const SecretString = typeof value === "string" ? value : JSON.stringify(value);
          return { name, value: async () => ({ SecretString }) };
        })
      : [];
  if (entries.length === 0) throw new ConfigError(`${file} has no secrets: expected an array of {"Name", "SecretString"} or an object of name to value.`);
  return { label: file, items: entries.map((item) => ({ ...item, name: `${opts.prefix ?? ""}${item.name}` })) };
}

function exportedSecret(entry: unknown, where: string): Item {
  if (!isObject(entry) || typeof entry.Name !== "string") throw new ConfigError(`${where} needs a "Name" string.`);
  const { Name, SecretString, SecretBinary, Description, Tags } = entry;
  if (SecretString !== undefined && typeof SecretString !== "string") throw new ConfigError(`${where}: "SecretString" must be a string.`);
  if (SecretBinary !== undefined && (typeof SecretBinary !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(SecretBinary)))
    throw new ConfigError(`${where}: "SecretBinary" must be base64.`);
  if (SecretString !== undefined && SecretBinary !== undefined) throw new ConfigError(`${where} has both "SecretString" and "SecretBinary".`);
  if (Description !== undefined && typeof Description !== "string") throw new ConfigError(`${where}: "Description" must be a string.`);
  if (Tags !== undefined && !(Array.isArray(Tags) && Tags.every((t) => isObject(t) && typeof t.Key === "string" && typeof t.Value === "string")))
    throw new ConfigError(`${where}: "Tags" must be a list of {"Key", "Value"} strings.`);
  const value: Value | undefined =
    SecretString !== undefined ? { SecretString } : SecretBinary !== undefined ? { SecretBinary: Buffer.from(SecretBinary, "base64") } : undefined;
  return { name: Name, value: async () => value, description: Description, tags: Tags as Tag[] | undefined };
}

/** Every secret of another Secrets Manager endpoint (not those scheduled for deletion): its current value, description, tags, rotation. */
export async function endpointSource(client: SecretsManagerClient, label: string, filter?: string): Promise<Source> {
  const items: Item[] = [];
  const Filters = filter ? [{ Key: "name" as const, Values: [filter] }] : undefined;
  for await (const page of paginateListSecrets({ client }, { Filters })) {
    for (const s of page.SecretList ?? []) {
      if (!s.Name || !s.ARN) continue;
      const arn = s.ARN;
      const functionName = s.RotationEnabled && s.RotationLambdaARN ? /:function:([^:]+)/.exec(s.RotationLambdaARN)?.[1] : undefined;
      items.push({
        name: s.Name,
        description: s.Description,
        tags: s.Tags,
        ...(functionName ? { rotation: { functionName, rules: s.RotationRules } } : {}),
        async value() {
          try {
            const v = await client.send(new GetSecretValueCommand({ SecretId: arn }));
            return v.SecretBinary ? { SecretBinary: v.SecretBinary } : v.SecretString !== undefined ? { SecretString: v.SecretString } : undefined;
          } catch (err) {
            // A secret created without a value has no AWSCURRENT version: its metadata still comes over.
            if ((err as Error).name === "ResourceNotFoundException") return undefined;
            throw err;
          }
        },
      });
    }
  }
  return { label, items };
}

function readSource(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sameValue(a: Value, current: { SecretString?: string; SecretBinary?: Uint8Array }): boolean {
  const mine = "SecretString" in a ? Buffer.from(a.SecretString) : Buffer.from(a.SecretBinary);
  const theirs = current.SecretBinary ? Buffer.from(current.SecretBinary) : current.SecretString !== undefined ? Buffer.from(current.SecretString) : undefined;
  if (!theirs || ("SecretString" in a) !== (current.SecretBinary === undefined)) return false;
  // Length first (a different length is a different value), then constant time.
  return mine.length === theirs.length && timingSafeEqual(mine, theirs);
}

const notFound = (err: unknown) => (err as Error).name === "ResourceNotFoundException";

/** Creates the secret, or brings the existing one to the item's value, description and tags. */
async function importOne(sm: SecretsManagerClient, item: Item, kmsKeyId: string | undefined): Promise<{ outcome: Outcome; existing?: DescribeSecretCommandOutput }> {
  const existing = await sm.send(new DescribeSecretCommand({ SecretId: item.name })).catch((err) => {
    if (notFound(err)) return undefined;
    throw err;
  });
  const value = await item.value();
  if (!existing) {
    await sm.send(new CreateSecretCommand({ Name: item.name, Description: item.description, Tags: item.tags, KmsKeyId: kmsKeyId, ...value }));
    return { outcome: "created" };
  }
  if (existing.DeletedDate) throw new Error("it is scheduled for deletion here; restore it (RestoreSecret) and import again");
  let changed = false;
  if (value) {
    const current = await sm.send(new GetSecretValueCommand({ SecretId: item.name })).catch((err) => {
      if (notFound(err)) return {};
      throw err;
    });
    if (!sameValue(value, current)) {
      await sm.send(new PutSecretValueCommand({ SecretId: item.name, ...value }));
      changed = true;
    }
  }
  if (item.description !== undefined && item.description !== (existing.Description ?? "")) {
    await sm.send(new UpdateSecretCommand({ SecretId: item.name, Description: item.description }));
    changed = true;
  }
  const have = new Map((existing.Tags ?? []).map((t) => [t.Key, t.Value]));
  const missing = (item.tags ?? []).filter((t) => have.get(t.Key) !== t.Value);
  if (missing.length > 0) {
    await sm.send(new TagResourceCommand({ SecretId: item.name, Tags: missing }));
    changed = true;
  }
  return { outcome: changed ? "updated" : "unchanged", existing };
}

/**
 * Rotation maps where this server has a rotation function of the same name
 * (`coffer functions add-webhook|add-command`): the schedule is set without
 * rotating now. Otherwise it is a note, not a failure: the value came over.
 */
async function importRotation(
  sm: SecretsManagerClient,
  item: Item,
  existing: DescribeSecretCommandOutput | undefined,
  functionArn: (name: string) => Promise<string>,
): Promise<{ changed: boolean; note?: string }> {
  if (!item.rotation) return { changed: false };
  const arn = await functionArn(item.rotation.functionName);
  const rules = item.rotation.rules;
  if (existing?.RotationEnabled && existing.RotationLambdaARN === arn && JSON.stringify(existing.RotationRules ?? {}) === JSON.stringify(rules ?? {}))
    return { changed: false };
  try {
    await sm.send(new RotateSecretCommand({ SecretId: item.name, RotationLambdaARN: arn, RotationRules: rules, RotateImmediately: false }));
    return { changed: true };
  } catch (err) {
    return {
      changed: false,
      note: `rotation not imported (${(err as Error).message}); register a rotation function named ${item.rotation.functionName} here and import again`,
    };
  }
}

/** A bar on a terminal (stderr), nothing otherwise: a pipe or a log gets the summary only. */
function progress(total: number): { tick(name: string): void; stop(): void } {
  if (!process.stderr.isTTY) return { tick() {}, stop() {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: "importing [{bar}] {value}/{total} {name}",
    barCompleteChar: "#",
    barIncompleteChar: "-",
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(total, 0, { name: "" });
  return { tick: (name) => bar.increment({ name }), stop: () => bar.stop() };
}

export async function runImport(source: Source, sm: SecretsManagerClient, opts: { kmsKeyId?: string; functionArn(name: string): Promise<string> }): Promise<Summary> {
  const summary: Summary = { Source: source.label, Created: [], Updated: [], Unchanged: [], Failed: [], Notes: [] };
  const lists = { created: summary.Created, updated: summary.Updated, unchanged: summary.Unchanged };
  const bar = progress(source.items.length);
  try {
    for (const item of source.items) {
      try {
        const { outcome, existing } = await importOne(sm, item, opts.kmsKeyId);
        const rotation = await importRotation(sm, item, existing, opts.functionArn);
        if (rotation.note) summary.Notes.push({ Name: item.name, Note: rotation.note });
        lists[outcome === "unchanged" && rotation.changed ? "updated" : outcome].push(item.name);
      } catch (err) {
        summary.Failed.push({ Name: item.name, Error: `${(err as Error).name === "Error" ? "" : `${(err as Error).name}: `}${(err as Error).message}` });
      }
      bar.tick(item.name);
    }
  } finally {
    bar.stop();
  }
  return summary;
}

function summaryText(s: Summary): string {
  const total = s.Created.length + s.Updated.length + s.Unchanged.length + s.Failed.length;
  return [
    `Imported ${total} secret${total === 1 ? "" : "s"} from ${s.Source}: ${s.Created.length} created, ${s.Updated.length} updated, ${s.Unchanged.length} unchanged, ${s.Failed.length} failed.`,
    ...s.Failed.map((f) => `  failed  ${f.Name}: ${f.Error}`),
    ...s.Notes.map((n) => `  note    ${n.Name}: ${n.Note}`),
  ].join("\n");
}

interface ImportFlags extends ClientFlags {
  prefix?: string;
  kmsKeyId?: string;
}

export function registerImportCommand(program: Command): void {
  const cmd = program
    .command("import")
    .description("bring existing secrets in: from a .env file, a JSON export or another Secrets Manager endpoint (running it again changes only what differs)");

  const run = async (source: Source, o: ImportFlags) => {
    const target = clientTarget(o);
    const sm = new SecretsManagerClient(target.config("secretsmanager"));
    let account: Promise<string> | undefined;
    const region = await sm.config.region();
    const functionArn = async (name: string) => {
      account ??= new STSClient(target.config("sts")).send(new GetCallerIdentityCommand({})).then((who) => who.Account!);
      return lambdaArn(region, await account, name);
    };
    const summary = await runImport(source, sm, { kmsKeyId: o.kmsKeyId, functionArn });
    print(o.output, summary, summaryText(summary));
    if (summary.Failed.length > 0) process.exitCode = 1;
  };
  const common = (c: Command) =>
    withClientOptions(c).option("--kms-key-id <key>", "KMS key of new secrets here (default aws/secretsmanager)");

  common(cmd.command("env <file>").description("a .env file: one secret per variable, or with --name one JSON secret of them all"))
    .option("--prefix <prefix>", "prepended to each variable's name, e.g. myapp/prod/")
    .option("--name <name>", "store every variable in one JSON secret of this name")
    .action(async (file: string, o: ImportFlags & { name?: string }) => {
      if (o.name && o.prefix) throw new ConfigError("Give --prefix (a secret per variable) or --name (one JSON secret), not both.");
      await run(envSource(file, o), o);
    });

  common(cmd.command("json <file>").description('a JSON export: [{"Name", "SecretString" | "SecretBinary", "Description", "Tags"}], or {"name": value}'))
    .option("--prefix <prefix>", "prepended to each secret's name")
    .action(async (file: string, o: ImportFlags) => run(jsonSource(file, o), o));

  common(cmd.command("secretsmanager").description("every secret of another Secrets Manager endpoint, AWS itself included"))
    .addOption(new Option("--from-endpoint <url>", 'the source: a URL, or "aws" for AWS Secrets Manager').makeOptionMandatory())
    .option("--from-profile <name>", "AWS profile whose credentials read the source (default: the standard AWS chain)")
    .option("--from-region <region>", "the source's region (default: AWS_REGION, AWS_DEFAULT_REGION)")
    .option("--from-ca-bundle <file>", "a CA certificate (PEM) to trust for the source")
    .option("--filter <prefix>", "only secrets whose name starts with this")
    .action(async (o: ImportFlags & { fromEndpoint: string; fromProfile?: string; fromRegion?: string; fromCaBundle?: string; filter?: string }) => {
      const toAws = o.fromEndpoint === "aws";
      if (!toAws && !/^https?:\/\//.test(o.fromEndpoint)) throw new ConfigError(`--from-endpoint must be an http(s) URL or "aws", not "${o.fromEndpoint.slice(0, 200)}".`);
      const ca = o.fromCaBundle ? readSource(o.fromCaBundle) : undefined;
      const source = new SecretsManagerClient({
        ...(toAws ? { ignoreConfiguredEndpointUrls: true } : { endpoint: o.fromEndpoint }),
        ...(o.fromRegion ? { region: o.fromRegion } : {}),
        ...(o.fromProfile ? { profile: o.fromProfile } : {}),
        ...(ca ? { requestHandler: { httpsAgent: { ca: [...rootCertificates, ca] } } } : {}),
      });
      const label = toAws ? `AWS Secrets Manager (${await source.config.region()})` : o.fromEndpoint;
      await run(await endpointSource(source, label, o.filter), o);
    });
}
