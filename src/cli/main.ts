import { Command, Option } from "commander";
import { ConfigError, loadConfig, type ConfigInput } from "../app/config.ts";
import { createAccount, createCoffer, createLogger } from "../app/compose.ts";
import { adminCredentialsFile } from "../app/data-dir.ts";
import { disableCoreDumps } from "../app/process-limits.ts";
import { registerAgentCommand } from "./agent-command.ts";
import { registerAlertCommands, registerAuditCommands } from "./audit-commands.ts";
import { registerBackupCommands } from "./backup-commands.ts";
import { registerMasterKeyCommands } from "./master-key-commands.ts";
import { registerIamCommands } from "./iam-commands.ts";
import { registerRotationCommands } from "./rotation-commands.ts";
import { registerRunCommand } from "./run-command.ts";

const program = new Command("coffer").description("Coffer: a self-hosted secret store with the AWS Secrets Manager API");

program
  .command("server")
  .description("run the Coffer server")
  .option("--host <host>", "address to listen on (COFFER_HOST, default 127.0.0.1)")
  .option("--port <port>", "port to listen on (COFFER_PORT, default 4599)")
  .option("--data-dir <dir>", "data directory (COFFER_DATA_DIR, default ./.coffer)")
  .option("--region <region>", "region this server serves (COFFER_REGION, default us-east-1)")
  .option("--account-id <id>", "account id of the administrator (COFFER_ACCOUNT_ID, default 000000000000)")
  .addOption(new Option("--tls <mode>", "auto: self-signed certificate in the data directory (COFFER_TLS)").choices(["auto", "off"]))
  .option("--tls-cert <file>", "TLS certificate, PEM (COFFER_TLS_CERT)")
  .option("--tls-key <file>", "TLS private key, PEM (COFFER_TLS_KEY)")
  .option("--master-key-file <file>", "master key file (COFFER_MASTER_KEY_FILE, default <data-dir>/master.key)")
  .option("--log-level <level>", "trace, debug, info, warn, error (COFFER_LOG_LEVEL, default info)")
  .option("--body-limit <bytes>", "largest request body accepted (COFFER_BODY_LIMIT, default 1048576)")
  .option("--node-id <id>", "this node's name among several on one database (COFFER_NODE_ID, default the host name)")
  .option("--config <file>", "JSON config file (COFFER_CONFIG)")
  .action(async (flags: ConfigInput) => {
    const config = loadConfig(flags);
    const logger = createLogger(config);
    // First, before the master key is in memory.
    const cores = disableCoreDumps();
    if (cores) logger.warn(cores);
    const coffer = await createCoffer(config, { logger });
    // The start-up warnings are out before anyone reads "listening" (the log is buffered).
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "shutting down; in-flight requests finish first");
      coffer.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
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
      process.stdout.write(
        [
          "",
          "Coffer administrator credentials (shown once; also saved to " + file + ", mode 0600):",
          `  AWS_ACCESS_KEY_ID=${coffer.adminKey.accessKeyId}`,
          `  AWS_SECRET_ACCESS_KEY=${coffer.adminKey.secretAccessKey}`,
          "",
          `  export AWS_SHARED_CREDENTIALS_FILE=${file} AWS_REGION=${config.region} AWS_DEFAULT_REGION=${config.region}`,
          `  aws --endpoint-url ${url} secretsmanager list-secrets`,
          "",
        ].join("\n") + "\n",
      );
    }
    logger.info({ url, dataDir: config.dataDir, region: config.region }, "coffer listening");
    process.stdout.write(`Coffer listening on ${url}\n`);
  });

program
  .command("account")
  .description("accounts (tenants) in this Coffer")
  .command("create <account-id>")
  .description("create an account and print its root (administrator) key once; works on the data directory")
  .option("--data-dir <dir>", "data directory (COFFER_DATA_DIR, default ./.coffer)")
  .option("--config <file>", "JSON config file (COFFER_CONFIG)")
  .action(async (accountId: string, flags: ConfigInput) => {
    if (!/^\d{12}$/.test(accountId)) throw new ConfigError(`An account id is 12 digits, not "${accountId}".`);
    const key = await createAccount(loadConfig(flags), accountId);
    process.stdout.write(
      `[account-${accountId}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
    );
  });

registerIamCommands(program);
registerAuditCommands(program);
registerAlertCommands(program);
registerRotationCommands(program);
registerAgentCommand(program);
registerRunCommand(program);
registerBackupCommands(program);
registerMasterKeyCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Messages only (an AWS SDK error's name is its error code); COFFER_DEBUG=1 shows the stack.
  const text = err instanceof Error ? (process.env.COFFER_DEBUG ? err.stack : `${err.name === "Error" ? "" : `${err.name}: `}${err.message}`) : String(err);
  process.stderr.write(`coffer: ${text}\n`);
  process.exit(1);
});
