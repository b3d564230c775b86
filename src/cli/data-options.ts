import type { Command } from "commander";

/** The options that say where a command finds Coffer's data: every command that opens it directly takes them. */
export function dataOptions(cmd: Command): Command {
  return cmd
    .option("--data-dir <dir>", "data directory (COFFER_DATA_DIR, default ./.coffer)")
    .option("--database-url <url>", "PostgreSQL database shared by several nodes (COFFER_DATABASE_URL; default SQLite in the data directory)")
    .option("--config <file>", "JSON config file (COFFER_CONFIG)");
}
