import type { Command } from "commander";
import { endpointFor, localServer, sameOrigin, withClientOptions, type ClientFlags } from "./client-options.ts";

/**
 * `coffer env`: the exports that point the AWS CLI, the SDKs (Node, Python)
 * and `coffer` itself at the local server, as its administrator, trusting its
 * certificate with --tls auto: eval "$(coffer env)".
 */

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** The variables, in the order printed; `unset` lists what would otherwise override the credentials file. */
export function environmentFor(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env): { set: [string, string][]; unset: string[]; dataDir?: string } {
  const local = localServer(flags, env);
  if (!local && !flags.endpoint) {
    throw new Error("No Coffer data directory here (./.coffer) or in ~/.coffer: give --data-dir, or start coffer server first.");
  }
  const endpoint = endpointFor(undefined, flags, env, local);
  const region = flags.region ?? local?.info?.region ?? "us-east-1";
  const set: [string, string][] = [
    ["AWS_ENDPOINT_URL", endpoint],
    ["AWS_REGION", region],
    ["AWS_DEFAULT_REGION", region],
  ];
  const unset: string[] = [];
  if (flags.profile) set.push(["AWS_PROFILE", flags.profile]);
  else if (local?.credentialsFile) {
    set.push(["AWS_SHARED_CREDENTIALS_FILE", local.credentialsFile]);
    // Variables win over the file for every SDK: the administrator's file would not be read.
    unset.push("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN");
  }
  const ca = local?.info?.caCertificate;
  if (ca && local?.info && sameOrigin(endpoint, local.info.url)) {
    // AWS_CA_BUNDLE: the AWS CLI and boto3 (Python); NODE_EXTRA_CA_CERTS: Node, beside its own roots.
    set.push(["AWS_CA_BUNDLE", ca], ["NODE_EXTRA_CA_CERTS", ca]);
  }
  return { set, unset, dataDir: local?.dataDir };
}

export function registerEnvCommand(program: Command): void {
  withClientOptions(program.command("env").description('print the exports that point AWS tools at the local server and trust its certificate: eval "$(coffer env)"')).action(
    (o: ClientFlags) => {
      const { set, unset, dataDir } = environmentFor(o);
      if (o.output === "json") {
        process.stdout.write(JSON.stringify(Object.fromEntries(set), null, 2) + "\n");
        return;
      }
      const lines = [`# Coffer at ${set[0][1]}${dataDir ? ` (data directory ${dataDir})` : ""}`];
      if (unset.length > 0) lines.push(`unset ${unset.join(" ")}`);
      for (const [name, value] of set) lines.push(`export ${name}=${quote(value)}`);
      process.stdout.write(lines.join("\n") + "\n");
    },
  );
}
