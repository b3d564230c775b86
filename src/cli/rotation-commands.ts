import type { Command } from "commander";
import { openDataDir } from "../app/compose.ts";
import { loadConfig, type ConfigInput } from "../app/config.ts";
import { checkFunctionName, checkWebhookSpec, FUNCTIONS_SETTING, registered } from "../services/rotation/rotation-registry.ts";

/** `coffer functions add-webhook|list|remove`: rotation functions, registered per account in the data directory. */
export function registerRotationCommands(program: Command): void {
  const functions = program.command("functions").description("rotation functions (docs/rotation.md)");
  const withDataDir = (cmd: Command) =>
    cmd
      .option("--data-dir <dir>", "data directory (COFFER_DATA_DIR, default ./.coffer)")
      .option("--config <file>", "JSON config file (COFFER_CONFIG)")
      .option("--account <id>", "the account the function belongs to (default: the configured account)");

  async function edit(flags: ConfigInput & { account?: string }, change: (all: Record<string, unknown>, account: string) => void) {
    const config = loadConfig(flags);
    const { store } = await openDataDir(config);
    try {
      const all = (await registered(store)) as Record<string, unknown>;
      change(all, flags.account ?? config.accountId);
      await store.transaction((tx) => tx.putSetting(FUNCTIONS_SETTING, JSON.stringify(all)));
    } finally {
      await store.close();
    }
  }

  withDataDir(functions.command("add-webhook <name> <url>").description("register a webhook rotation function"))
    .requiredOption("--secret <secret>", "HMAC key for the x-coffer-signature header (16+ characters)")
    .action(async (name: string, url: string, o: ConfigInput & { account?: string; secret: string }) => {
      await edit(o, (all, account) => {
        const spec = { kind: "webhook" as const, url, secret: o.secret };
        checkWebhookSpec(name, spec);
        all[`${account}/${name}`] = spec;
        process.stdout.write(`arn:aws:lambda:${loadConfig(o).region}:${account}:function:${name}\n`);
      });
    });

  withDataDir(functions.command("add-command <name> <program> [args...]").description("register a command rotation function"))
    .requiredOption("--role <arn>", "the role whose temporary credentials the command gets")
    .action(async (name: string, program: string, args: string[], o: ConfigInput & { account?: string; role: string }) => {
      await edit(o, (all, account) => {
        checkFunctionName(name);
        if (!/^arn:aws:iam::\d{12}:role\/.+$/.test(o.role)) throw new Error("--role must be a role ARN.");
        all[`${account}/${name}`] = { kind: "command", command: [program, ...args], roleArn: o.role };
        process.stdout.write(`arn:aws:lambda:${loadConfig(o).region}:${account}:function:${name}\n`);
      });
    });

  withDataDir(functions.command("list").description("registered functions (and the built-ins)")).action(async (o: ConfigInput & { account?: string }) => {
    const config = loadConfig(o);
    const { store } = await openDataDir(config);
    try {
      for (const [key, spec] of Object.entries(await registered(store))) {
        const [account, name] = key.split("/");
        process.stdout.write(`arn:aws:lambda:${config.region}:${account}:function:${name}\t${spec.kind}\n`);
      }
      for (const name of ["random-value", "postgres-single-user", "postgres-alternating-users", "mysql-single-user", "mysql-alternating-users"]) {
        process.stdout.write(`arn:aws:lambda:${config.region}:<account>:function:coffer-${name}\tbuilt-in\n`);
      }
    } finally {
      await store.close();
    }
  });

  withDataDir(functions.command("remove <name>").description("remove a registered function")).action(async (name: string, o: ConfigInput & { account?: string }) => {
    await edit(o, (all, account) => {
      if (!(`${account}/${name}` in all)) throw new Error(`There is no function ${name} in account ${account}.`);
      delete all[`${account}/${name}`];
    });
  });
}
