import { CloudTrailClient, LookupEventsCommand, type LookupAttributeKey } from "@aws-sdk/client-cloudtrail";
import { Option, type Command } from "commander";
import { verifyExport } from "../audit/audit-retention.ts";
import { verifyAuditChain } from "../audit/audit-verify.ts";
import { parseAlertRules, type AlertRule } from "../audit/alerts.ts";
import { openDataDir, STORED_RULES_SETTING } from "../app/compose.ts";
import { asOperator } from "../app/operator-audit.ts";
import { loadConfig, type ConfigInput } from "../app/config.ts";
import { clientTarget, withClientOptions, type ClientFlags } from "./client-options.ts";
import { dataOptions } from "./data-options.ts";

const ATTRIBUTES: Record<string, LookupAttributeKey> = {
  eventName: "EventName",
  user: "Username",
  resource: "ResourceName",
  resourceType: "ResourceType",
  accessKey: "AccessKeyId",
  source: "EventSource",
  readOnly: "ReadOnly",
  eventId: "EventId",
};

type Event = { EventTime?: Date; Username?: string; EventName?: string; CloudTrailEvent?: string };

/** Text: one line per event (time, who, from where, what, on what, result); json: the CloudTrail record, one per line. */
function eventLine(e: Event, o: ClientFlags): string {
  return o.output === "json" ? e.CloudTrailEvent! : line(e);
}

function line(e: Event): string {
  const ct = JSON.parse(e.CloudTrailEvent ?? "{}") as { errorCode?: string; sourceIPAddress?: string; resources?: { ARN: string }[] };
  const on = ct.resources?.map((r) => r.ARN).join(",") ?? "-";
  return [e.EventTime?.toISOString(), e.Username ?? "-", ct.sourceIPAddress ?? "-", e.EventName, on, ct.errorCode ?? "OK"].join("  ");
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("the audit trail");

  dataOptions(
    audit
      .command("verify")
      .description("walk the hash chain and name the first altered, removed or inserted event (on the data directory)"),
  )
    .option("--export <file>", "verify an exported JSON-lines file instead")
    .action(async (flags: ConfigInput & { export?: string }) => {
      if (flags.export) {
        const r = await verifyExport(flags.export);
        if (!r.ok) throw new Error(`audit export is NOT intact: ${r.problem}`);
        process.stdout.write(`audit export intact: events ${r.firstSeq} to ${r.lastSeq}, last hash ${r.lastHash}\n`);
        return;
      }
      const { store, auditKey } = await openDataDir(loadConfig(flags));
      try {
        const r = await verifyAuditChain(store, auditKey);
        if (!r.ok) throw new Error(`audit trail is NOT intact: ${r.problem}`);
        process.stdout.write(`audit trail intact: ${r.rows} entries (${r.firstSeq} to ${r.lastSeq}), signed head and ${r.checkpoints} signed checkpoints match\n`);
      } finally {
        await store.close();
      }
    });

  withClientOptions(audit.command("tail").description("the newest events (LookupEvents); --follow keeps watching"))
    .option("-n, --max <count>", "how many", "20")
    .option("-f, --follow", "poll for new events")
    .action(async (o: ClientFlags & { max: string; follow?: boolean }) => {
      const client = new CloudTrailClient(clientTarget(o).config("cloudtrail"));
      const first = await client.send(new LookupEventsCommand({ MaxResults: Math.min(Number(o.max), 50) }));
      const seen = new Set<string>();
      for (const e of [...(first.Events ?? [])].reverse()) {
        seen.add(e.EventId!);
        process.stdout.write(eventLine(e, o) + "\n");
      }
      while (o.follow) {
        await new Promise((r) => setTimeout(r, 1000));
        const page = await client.send(new LookupEventsCommand({ MaxResults: 50 }));
        for (const e of [...(page.Events ?? [])].reverse()) {
          if (seen.has(e.EventId!)) continue;
          seen.add(e.EventId!);
          process.stdout.write(eventLine(e, o) + "\n");
        }
      }
    });

  const search = withClientOptions(audit.command("search").description("events matching one attribute and a time range"));
  for (const [flag, key] of Object.entries(ATTRIBUTES)) search.option(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} <value>`, `match ${key}`);
  search
    .option("--since <time>", "ISO time")
    .option("--until <time>", "ISO time")
    .option("-n, --max <count>", "how many at most", "50")
    // Before --output json said it the way every command does.
    .addOption(new Option("--json", "the same as --output json").hideHelp())
    .action(async (o: ClientFlags & Record<string, string | boolean | undefined>) => {
      if (o.json) o.output = "json";
      const given = Object.keys(ATTRIBUTES).filter((k) => o[k] !== undefined);
      if (given.length > 1) throw new Error("CloudTrail looks up one attribute at a time: give at most one of " + Object.keys(ATTRIBUTES).join(", "));
      const client = new CloudTrailClient(clientTarget(o).config("cloudtrail"));
      let NextToken: string | undefined;
      let left = Number(o.max);
      do {
        const page = await client.send(
          new LookupEventsCommand({
            LookupAttributes: given.length ? [{ AttributeKey: ATTRIBUTES[given[0]], AttributeValue: String(o[given[0]]) }] : undefined,
            StartTime: o.since ? new Date(String(o.since)) : undefined,
            EndTime: o.until ? new Date(String(o.until)) : undefined,
            MaxResults: Math.min(left, 50),
            NextToken,
          }),
        );
        for (const e of page.Events ?? []) process.stdout.write(eventLine(e, o) + "\n");
        left -= page.Events?.length ?? 0;
        NextToken = page.NextToken;
      } while (NextToken && left > 0);
    });
}

/** `coffer alerts add|list|remove`: rules kept in the data directory, beside those of the config file. */
export function registerAlertCommands(program: Command): void {
  const alerts = program.command("alerts").description("alert rules (docs/audit.md)");

  /** An edit of the stored rules: the new list, written as the audited operator action it names (operator-audit.ts). */
  interface RulesChange {
    rules: AlertRule[];
    eventName: string;
    command: string;
    ruleName: string;
  }

  /** Reads the rules; a `change` that returns an edit writes it. */
  async function withRules(flags: ConfigInput, change: (rules: AlertRule[]) => RulesChange | undefined) {
    const config = loadConfig(flags);
    const { store, auditKey } = await openDataDir(config);
    try {
      const text = await store.getSetting(STORED_RULES_SETTING);
      const edit = change(text ? parseAlertRules(JSON.parse(text)) : []);
      if (edit) {
        parseAlertRules(edit.rules);
        const { rules, ruleName, ...what } = edit;
        await asOperator({ store, auditKey, region: config.region }, { ...what, accountId: config.accountId, details: { ruleName } }, () =>
          store.transaction((tx) => tx.putSetting(STORED_RULES_SETTING, JSON.stringify(rules))),
        );
      }
    } finally {
      await store.close();
    }
  }

  dataOptions(alerts.command("add <name> <type> <webhook>").description("add a rule: access-denied, rotation-failed, first-read, auth-failures or parameter-policy"))
    .requiredOption("--secret <secret>", "HMAC secret the receiver verifies x-coffer-signature with (16+ characters)")
    .option("--threshold <n>", "auth-failures: more than this many failures...")
    .option("--window <seconds>", "auth-failures: ...within this many seconds")
    .action(async (name: string, type: string, webhook: string, o: ConfigInput & { secret: string; threshold?: string; window?: string }) => {
      const rule: Record<string, unknown> = { name, type, webhook, secret: o.secret };
      if (o.threshold !== undefined) rule.threshold = Number(o.threshold);
      if (o.window !== undefined) rule.windowSeconds = Number(o.window);
      await withRules(o, (rules) => {
        if (rules.some((r) => r.name === name)) throw new Error(`A rule named ${name} exists already.`);
        return { rules: [...rules, ...parseAlertRules([rule])], eventName: "AddAlertRule", command: "coffer alerts add", ruleName: name };
      });
      process.stdout.write(`alert rule ${name} added\n`);
    });

  dataOptions(alerts.command("list").description("rules kept in the data directory (secrets not shown)")).action(async (o: ConfigInput) => {
    await withRules(o, (rules) => {
      for (const r of rules) process.stdout.write(`${r.name}\t${r.type}\t${new URL(r.webhook).origin}\n`);
      return undefined;
    });
  });

  dataOptions(alerts.command("remove <name>").description("remove a rule")).action(async (name: string, o: ConfigInput) => {
    await withRules(o, (rules) => {
      if (!rules.some((r) => r.name === name)) throw new Error(`There is no rule named ${name}.`);
      return { rules: rules.filter((r) => r.name !== name), eventName: "RemoveAlertRule", command: "coffer alerts remove", ruleName: name };
    });
    process.stdout.write(`alert rule ${name} removed\n`);
  });
}
