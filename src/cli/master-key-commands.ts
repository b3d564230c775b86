import type { Command } from "commander";
import { commandLine, loadConfig, type ConfigInput } from "../app/config.ts";
import { rotateDataDirMasterKey } from "../app/master-key-rotation.ts";

interface RotateFlags extends ConfigInput {
  newKeyFile?: string;
  newKeyCommand?: string;
  nodes?: string;
  waitSeconds: string;
}

export function registerMasterKeyCommands(program: Command): void {
  const masterKey = program.command("master-key").description("the master key that seals every other key");

  masterKey
    .command("rotate")
    .description(
      "re-wrap everything sealed under the master key under a new one (or a new passphrase); a running server keeps serving and takes the new key",
    )
    .option("--data-dir <dir>", "data directory (COFFER_DATA_DIR, default ./.coffer)")
    .option("--config <file>", "JSON config file (COFFER_CONFIG)")
    .option("--master-key-file <file>", "the current master key file (COFFER_MASTER_KEY_FILE, default <data-dir>/master.key)")
    .option("--new-key-file <file>", "the new key file (created with a fresh key if missing); default: a fresh key replaces the current key file")
    .option("--new-key-command <command>", "a command that prints the new key (JSON array or words; COFFER_NEW_MASTER_KEY_COMMAND)")
    .option("--nodes <n>", "running servers that must take the new key first (default: 1 if a server holds the data directory, else 0)")
    .option("--wait-seconds <s>", "how long to wait for them", "60")
    .action(async (flags: RotateFlags) => {
      const { newKeyFile, newKeyCommand, nodes, waitSeconds, ...rest } = flags;
      const config = loadConfig(rest);
      const env = process.env;
      const nodeCount = nodes === undefined ? undefined : Number(nodes);
      if (nodeCount !== undefined && !(Number.isInteger(nodeCount) && nodeCount >= 0)) throw new Error("--nodes must be a whole number.");
      const wait = Number(waitSeconds);
      if (!(wait > 0 && wait <= 3600)) throw new Error("--wait-seconds must be a number of seconds above 0 and at most 3600.");
      const report = await rotateDataDirMasterKey(
        config,
        {
          newKeyFile,
          newKey: env.COFFER_NEW_MASTER_KEY || undefined,
          newPassphrase: env.COFFER_NEW_MASTER_PASSPHRASE || undefined,
          newKeyCommand: commandLine(newKeyCommand ?? env.COFFER_NEW_MASTER_KEY_COMMAND, "--new-key-command (COFFER_NEW_MASTER_KEY_COMMAND)"),
        },
        { nodes: nodeCount, waitSeconds: wait, progress: (line) => process.stderr.write(`coffer: ${line}\n`) },
      );
      process.stdout.write(
        [
          `master key rotated: ${report.from} -> ${report.to}`,
          `  re-wrapped: ${report.keys} KMS key(s), ${report.accessKeys} access key(s), ${report.functionSecrets} webhook key(s), ${report.auditKey} audit key`,
          report.adoptedBy.length > 0 ? `  running server(s) now on the new key: ${report.adoptedBy.join(", ")}` : "  no server was running",
          `  from now on the data opens with ${report.next} only; the old key no longer opens it (keep it only with backups taken before now)`,
          "",
        ].join("\n"),
      );
    });
}
