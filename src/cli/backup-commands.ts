import type { Command } from "commander";
import { backupDataDir, restoreDataDir } from "../app/backup.ts";
import { loadConfig, type ConfigInput } from "../app/config.ts";

export function registerBackupCommands(program: Command): void {
  program
    .command("backup")
    .description("write a consistent, still-encrypted copy of the data directory's database (works while the server runs)")
    .requiredOption("--out <file>", "the backup file to create (never overwritten; mode 0600)")
    .option("--data-dir <dir>", "data directory (COFFER_DATA_DIR, default ./.coffer)")
    .option("--config <file>", "JSON config file (COFFER_CONFIG)")
    .action((flags: ConfigInput & { out: string }) => {
      const { out, ...rest } = flags;
      const info = backupDataDir(loadConfig(rest), out);
      process.stdout.write(
        `backup written to ${info.file} (mode 0600)\n` +
          `its data is sealed under master key ${info.masterKeyId ?? "(unknown)"}: keep that key (not in the backup) to restore it\n`,
      );
    });

  program
    .command("restore")
    .description("restore a backup into a new, empty data directory")
    .requiredOption("--from <file>", "the backup file")
    .requiredOption("--data-dir <dir>", "the new data directory (must not exist or be empty)")
    .action((flags: { from: string; dataDir: string }) => {
      const info = restoreDataDir(flags.from, flags.dataDir);
      process.stdout.write(
        `restored into ${info.file}\n` +
          `start the server there with the master key ${info.masterKeyId ?? "(unknown)"} (--master-key-file, COFFER_MASTER_KEY, COFFER_MASTER_PASSPHRASE or masterKeyCommand)\n`,
      );
    });
}
