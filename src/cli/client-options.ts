import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { rootCertificates } from "node:tls";
import { Option, type Command } from "commander";
import { ConfigError } from "../app/config.ts";
import { adminCredentialsFile, readAdminCredentials, readServerInfo, type ServerInfo } from "../app/data-dir.ts";

/**
 * One way for every command that talks to a server to find it, sign for it
 * and trust it (issue 15.6): whoami, user, role, audit tail/search, agent,
 * run, and `coffer env`, which prints the same answer for other programs.
 *
 * - endpoint: --endpoint, then AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
 *   COFFER_ENDPOINT, then the local server (server.json in the data
 *   directory), then http://127.0.0.1:4599. Never AWS unless asked:
 *   `--endpoint aws` is the SDK's own resolution (AWS's endpoints).
 * - credentials: --profile, or whatever the environment names (AWS_PROFILE,
 *   AWS_ACCESS_KEY_ID, AWS_SHARED_CREDENTIALS_FILE, a web identity or
 *   container credentials) through the standard AWS chain; otherwise the
 *   data directory's administrator key; otherwise the standard chain.
 * - region: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's (with
 *   --profile/AWS_PROFILE), the local server's, us-east-1.
 * - trust: AWS_CA_BUNDLE, else the local server's self-signed certificate
 *   (--tls auto) when talking to it, on top of Node's own roots.
 * - data directory: --data-dir, COFFER_DATA_DIR, ./.coffer, ~/.coffer (the
 *   first that exists).
 */

export type Service = "secretsmanager" | "ssm" | "iam" | "sts" | "cloudtrail" | "kms";

/** The SDK's per-service variables (AWS_ENDPOINT_URL_ + the service id upper-cased, spaces as _). */
export const SERVICE_ENDPOINT_VARIABLES: Record<Service, string> = {
  secretsmanager: "AWS_ENDPOINT_URL_SECRETS_MANAGER",
  ssm: "AWS_ENDPOINT_URL_SSM",
  iam: "AWS_ENDPOINT_URL_IAM",
  sts: "AWS_ENDPOINT_URL_STS",
  cloudtrail: "AWS_ENDPOINT_URL_CLOUDTRAIL",
  kms: "AWS_ENDPOINT_URL_KMS",
};

export const DEFAULT_ENDPOINT = "http://127.0.0.1:4599";

/** Variables through which the environment names credentials of its own: then the standard AWS chain decides. */
const CREDENTIAL_VARIABLES = [
  "AWS_PROFILE",
  "AWS_ACCESS_KEY_ID",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
];

export interface ClientFlags {
  endpoint?: string;
  profile?: string;
  region?: string;
  dataDir?: string;
  output?: OutputFormat;
}

export type OutputFormat = "text" | "json";

/** Adds --endpoint, --profile, --region, --data-dir (and --output unless the command prints no result). */
export function withClientOptions(cmd: Command, { output = true }: { output?: boolean } = {}): Command {
  cmd
    .option("--endpoint <url>", 'the server (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, COFFER_ENDPOINT; default: the local server); "aws" for AWS itself')
    .option("--profile <name>", "AWS profile whose credentials sign (AWS_PROFILE; default: the local administrator's)")
    .option("--region <region>", "region (AWS_REGION, AWS_DEFAULT_REGION; default: the local server's)")
    .option("--data-dir <dir>", "the local server's data directory (COFFER_DATA_DIR; default ./.coffer, then ~/.coffer)");
  if (output) cmd.addOption(new Option("--output <format>", "text (a table or plain text) or json").choices(["text", "json"]).default("text"));
  return cmd;
}

export interface LocalServer {
  dataDir: string;
  /** What the server wrote at its last start, if it has started there. */
  info?: ServerInfo;
  /** The administrator credentials file, if there is one. */
  credentialsFile?: string;
}

/** The data directory this command means: --data-dir, COFFER_DATA_DIR, else ./.coffer or ~/.coffer, whichever exists first. */
export function localServer(flags: Pick<ClientFlags, "dataDir">, env: NodeJS.ProcessEnv = process.env): LocalServer | undefined {
  const given = flags.dataDir ?? (env.COFFER_DATA_DIR || undefined);
  const candidates = given ? [resolve(given)] : [resolve(".coffer"), resolve(env.HOME || homedir(), ".coffer")];
  const dataDir = candidates.find((d) => existsSync(d));
  if (!dataDir) {
    if (given) throw new ConfigError(`There is no Coffer data directory at ${candidates[0]}.`);
    return undefined;
  }
  const credentialsFile = adminCredentialsFile(dataDir);
  return { dataDir, info: readServerInfo(dataDir), ...(existsSync(credentialsFile) ? { credentialsFile } : {}) };
}

export interface SdkClientConfig {
  endpoint?: string;
  region?: string;
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  ignoreConfiguredEndpointUrls?: boolean;
  requestHandler?: { httpsAgent: { ca: string[] } };
}

export interface ClientTarget {
  /** The SDK client configuration for one service. */
  config(service: Service): SdkClientConfig;
  local?: LocalServer;
}

export function clientTarget(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env): ClientTarget {
  const local = localServer(flags, env);
  const toAws = flags.endpoint === "aws";
  const profile = flags.profile ?? (env.AWS_PROFILE || undefined);
  const namedCredentials = flags.profile !== undefined || CREDENTIAL_VARIABLES.some((v) => env[v]);
  const adminKey = !namedCredentials && !toAws && local ? readAdminCredentials(local.dataDir) : undefined;
  const region =
    flags.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || (profile || toAws ? undefined : (local?.info?.region ?? "us-east-1")));
  const caFile = env.AWS_CA_BUNDLE || undefined;
  const extraCa = caFile ? readFileSync(caFile, "utf8") : undefined;

  return {
    local,
    config(service) {
      const endpoint = toAws ? undefined : endpointFor(service, flags, env, local);
      const localCa =
        !extraCa && endpoint && local?.info?.caCertificate && sameOrigin(endpoint, local.info.url) && existsSync(local.info.caCertificate)
          ? readFileSync(local.info.caCertificate, "utf8")
          : undefined;
      const ca = extraCa ?? localCa;
      return {
        // "aws": no endpoint of ours, and none the environment or a profile configures either.
        ...(endpoint ? { endpoint } : { endpoint: undefined, ignoreConfiguredEndpointUrls: true }),
        ...(region ? { region } : {}),
        ...(flags.profile ? { profile: flags.profile } : {}),
        ...(adminKey ? { credentials: adminKey } : {}),
        // `ca` replaces Node's roots for this agent: they are kept beside the extra one.
        ...(ca ? { requestHandler: { httpsAgent: { ca: [...rootCertificates, ca] } } } : {}),
      };
    },
  };
}

/** The endpoint for one service, or (no service) for all of them: --endpoint, the variables, the local server, the default. */
export function endpointFor(service: Service | undefined, flags: ClientFlags, env: NodeJS.ProcessEnv, local: LocalServer | undefined): string {
  if (flags.endpoint) return checkUrl("--endpoint", flags.endpoint);
  const variables = service ? [SERVICE_ENDPOINT_VARIABLES[service], "AWS_ENDPOINT_URL", "COFFER_ENDPOINT"] : ["AWS_ENDPOINT_URL", "COFFER_ENDPOINT"];
  for (const name of variables) {
    const value = env[name];
    if (value) return checkUrl(name, value);
  }
  return local?.info?.url ?? DEFAULT_ENDPOINT;
}

function checkUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be a URL such as ${DEFAULT_ENDPOINT} (or "aws" for AWS itself), not "${value.slice(0, 200)}".`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(`${name} must be an http:// or https:// URL, not "${value.slice(0, 200)}".`);
  return value;
}

export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
