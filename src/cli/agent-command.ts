import type { Command } from "commander";
import { createAgent } from "../agent/agent-server.ts";
import type { RegionTarget } from "../client/failover.ts";
import { clientTarget, withClientOptions, type ClientFlags } from "./client-options.ts";

/**
 * `coffer agent`: the AWS Secrets Manager Agent protocol on localhost:2773
 * (see src/agent/agent-server.ts). Its server, credentials and region are found
 * as every command finds them (client-options.ts); the SSRF token from
 * AWS_TOKEN, AWS_SESSION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN.
 */

interface AgentFlags extends ClientFlags {
  host: string;
  port: string;
  ttl: string;
  cacheSize: string;
  maxConn: string;
  pathPrefix: string;
  allowRemote?: boolean;
  failover: string[];
}

/** `--failover us-west-2=https://west.example:8443[,profile=west]`: a region to read from when the ones before it are unreachable. */
function failoverTarget(spec: string): RegionTarget {
  const [head, ...rest] = spec.split(",");
  const m = /^(([a-z]+-)+\d+)=(https?:\/\/.+)$/.exec(head);
  if (!m) throw new Error(`--failover takes REGION=URL[,profile=NAME], not "${spec}"`);
  const target: RegionTarget = { region: m[1], endpoint: m[3] };
  for (const extra of rest) {
    const [key, value] = extra.split("=");
    if (key !== "profile" || !value) throw new Error(`--failover takes REGION=URL[,profile=NAME], not "${spec}"`);
    target.clientConfig = { profile: value };
  }
  return target;
}

const integer = (name: string, text: string) => {
  if (!/^\d+$/.test(text)) throw new Error(`${name} must be a whole number, not "${text}"`);
  return Number(text);
};

export function registerAgentCommand(program: Command): void {
  withClientOptions(program.command("agent"), { output: false })
    .description("serve secrets and parameters to local programs over the AWS Secrets Manager Agent protocol, with a cache")
    .option("--host <address>", "address to listen on (loopback only, unless --allow-remote)", "127.0.0.1")
    .option("--port <port>", "port (1024-65535; 0 picks a free one)", "2773")
    .option("--ttl <seconds>", "how long answers are cached (0-3600; 0 = no cache)", "300")
    .option("--cache-size <n>", "entries cached, secrets and parameters each (1-1000)", "1000")
    .option("--max-conn <n>", "open connections served (1-1000); more get 429", "800")
    .option("--path-prefix <prefix>", "prefix of path-style reads, GET <prefix><secretId>", "/v1/")
    .option(
      "--failover <region=url>",
      "a region to read from when those before it are unreachable (repeatable; REGION=URL[,profile=NAME]); never on an access denial",
      (spec: string, all: string[]) => [...all, spec],
      [] as string[],
    )
    .option("--allow-remote", "allow a non-loopback --host (anyone who reaches it and has the token reads secrets)")
    .action(async (flags: AgentFlags) => {
      const target = clientTarget(flags);
      const agent = createAgent({
        host: flags.host,
        port: integer("--port", flags.port),
        ttlSeconds: integer("--ttl", flags.ttl),
        cacheSize: integer("--cache-size", flags.cacheSize),
        maxConnections: integer("--max-conn", flags.maxConn),
        pathPrefix: flags.pathPrefix,
        allowRemote: flags.allowRemote === true,
        failover: flags.failover.map(failoverTarget),
        clientConfig: { secretsmanager: target.config("secretsmanager"), ssm: target.config("ssm") },
        // Error names and statuses only: the agent never hands a value to its log.
        log: (message, fields) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), msg: message, ...fields }) + "\n"),
      });
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        agent.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      const url = await agent.listen();
      process.stdout.write(`Coffer agent listening on ${url}\n`);
    });
}
