import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { ConfigError, loadConfig, unknownEnvironmentVariables, type ConfigInput } from "../app/config.ts";
import { createAccount, createCoffer, createLogger } from "../app/compose.ts";
import { adminCredentialsFile } from "../app/data-dir.ts";
import { openStore, requireData } from "../app/open-store.ts";
import { disableCoreDumps } from "../app/process-limits.ts";
import { registerAgentCommand } from "./agent-command.ts";
import { dataOptions } from "./data-options.ts";
import { registerAlertCommands, registerAuditCommands } from "./audit-commands.ts";
import { registerEnvCommand } from "./env-command.ts";
import { registerBackupCommands } from "./backup-commands.ts";
import { registerMasterKeyCommands } from "./master-key-commands.ts";
import { registerIamCommands } from "./iam-commands.ts";
import { registerImportCommand } from "./import-command.ts";
import { registerRotationCommands } from "./rotation-commands.ts";
import { registerOidcCommands } from "./oidc-commands.ts";
import { registerRegionCommands } from "./region-commands.ts";
import { registerRunCommand } from "./run-command.ts";
import { stopOnSignals } from "./shutdown.ts";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
const program = new Command("coffer")
  .description("Coffer: a self-hosted secret store with the AWS Secrets Manager API")
  .version(version, "-V, --version", "print the version")
  // Usage errors reach the catch below (commander has printed them), to exit 2 like a bad configuration.
  .exitOverride();

program
  .command("server")
  .description("run the Coffer server")
  .option("--host <host>", "address to listen on (COFFER_HOST, default 127.0.0.1)")
  .option("--port <port>", "port to listen on (COFFER_PORT, default 4599)")
  .option("--data-dir <dir>", "data directory (COFFER_DATA_DIR, default ./.coffer)")
  .option("--database-url <url>", "PostgreSQL database shared by several nodes (COFFER_DATABASE_URL; default SQLite in the data directory)")
  .option("--region <region>", "region this server serves (COFFER_REGION, default us-east-1)")
  .option("--account-id <id>", "account id of the administrator (COFFER_ACCOUNT_ID, default 000000000000)")
  .addOption(new Option("--tls <mode>", "auto: self-signed certificate in the data directory (COFFER_TLS)").choices(["auto", "off"]))
  .option("--tls-cert <file>", "TLS certificate, PEM (COFFER_TLS_CERT)")
  .option("--tls-key <file>", "TLS private key, PEM (COFFER_TLS_KEY)")
  .option("--master-key-file <file>", "master key file (COFFER_MASTER_KEY_FILE, default <data-dir>/master.key)")
  .option("--log-level <level>", "trace, debug, info, warn, error (COFFER_LOG_LEVEL, default info)")
  .option("--body-limit <bytes>", "largest request body accepted (COFFER_BODY_LIMIT, default 1048576)")
  .option("--node-id <id>", "this node's name among several on one database (COFFER_NODE_ID, default the host name)")
  .addOption(new Option("--metrics <mode>", "serve Prometheus metrics at GET /metrics (COFFER_METRICS, default on)").choices(["on", "off"]))
  .option("--config <file>", "JSON config file (COFFER_CONFIG)")
  .action(async (flags: ConfigInput) => {
    const config = loadConfig(flags);
    const logger = createLogger(config);
    for (const warning of unknownEnvironmentVariables()) logger.warn(warning);
    // First, before the master key is in memory.
    const cores = disableCoreDumps();
    if (cores) logger.warn(cores);
    const coffer = await createCoffer(config, { logger });
    stopOnSignals(coffer, logger);
    const file = adminCredentialsFile(config.dataDir);
    let url: string;
    try {
      url = await coffer.start();
    } catch (err) {
      if (coffer.adminKey) process.stderr.write(`coffer: the administrator credentials of this new data directory are saved in ${file} (mode 0600)\n`);
      await coffer.stop().catch(() => {});
      throw err;
    }
    if (coffer.adminKey) {
      // Printed once, on first start, to standard output only: never through the logger.
      const caBundle = config.tls === "auto" ? ` --ca-bundle ${join(config.dataDir, "tls-cert.pem")}` : "";
      process.stdout.write(
        [
          "",
          "Coffer administrator credentials (shown once; also saved to " + file + ", mode 0600):",
          `  AWS_ACCESS_KEY_ID=${coffer.adminKey.accessKeyId}`,
          `  AWS_SECRET_ACCESS_KEY=${coffer.adminKey.secretAccessKey}`,
          "",
          `  export AWS_SHARED_CREDENTIALS_FILE=${file} AWS_REGION=${config.region} AWS_DEFAULT_REGION=${config.region}`,
          `  aws --endpoint-url ${url}${caBundle} secretsmanager list-secrets`,
          "",
        ].join("\n") + "\n",
      );
    }
    logger.info({ url, dataDir: config.dataDir, region: config.region }, "coffer listening");
    if (config.tls === "auto") {
      const ca = join(config.dataDir, "tls-cert.pem");
      logger.info({ caCertificate: ca }, "TLS with a self-signed certificate; clients must trust it");
      process.stdout.write(`TLS certificate to trust: ${ca}\n  eval "$(coffer env --data-dir ${config.dataDir})" sets AWS_CA_BUNDLE and NODE_EXTRA_CA_CERTS\n`);
    }
    process.stdout.write(`Coffer listening on ${url}\n`);
  });

dataOptions(
  program
    .command("account")
    .description("accounts (tenants) in this Coffer")
    .command("create <account-id>")
    .description("create an account and print its root (administrator) key once; works on the data directory"),
).action(async (accountId: string, flags: ConfigInput) => {
  if (!/^\d{12}$/.test(accountId)) throw new ConfigError(`An account id is 12 digits, not "${accountId}".`);
  const key = await createAccount(loadConfig(flags), accountId);
  process.stdout.write(
    `[account-${accountId}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
  );
});

dataOptions(
  program
    .command("migrate")
    .description("bring the database's schema to this version, then exit (nodes also do it when they start; a node refuses a newer schema)"),
).action(async (flags: ConfigInput) => {
  const config = loadConfig(flags);
  requireData(config);
  const { store, where } = await openStore(config);
  await store.close();
  process.stdout.write(`The schema of ${where} is up to date.\n`);
});

registerIamCommands(program);
registerAuditCommands(program);
registerAlertCommands(program);
registerRotationCommands(program);
registerOidcCommands(program);
registerAgentCommand(program);
registerRunCommand(program);
registerEnvCommand(program);
registerBackupCommands(program);
registerMasterKeyCommands(program);
registerImportCommand(program);
registerRegionCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  // Messages only (an AWS SDK error's name is its error code); COFFER_DEBUG=1 shows the stack.
  const text = err instanceof Error ? (process.env.COFFER_DEBUG ? err.stack : `${err.name === "Error" ? "" : `${err.name}: `}${err.message}`) : String(err);
  process.stderr.write(`coffer: ${text}\n`);
  // 2: the configuration or the command line is wrong (nothing was tried); 1: it failed.
  process.exit(err instanceof ConfigError ? 2 : 1);
});
