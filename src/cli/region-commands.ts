import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { openDataDir } from "../app/compose.ts";
import { loadConfig, type ConfigInput } from "../app/config.ts";
import { createRegionLinks, type RegionLinks } from "../services/replication/region-links.ts";
import { dataOptions } from "./data-options.ts";
import { table } from "./output.ts";

type AddFlags = ConfigInput & { endpoint: string; accessKeyId?: string; secretAccessKey?: string; caFile?: string };

/**
 * `coffer region add|list|remove`: links from this region to others
 * (docs/replication.md), made straight on the data directory (the server may
 * be running; it reads links when it delivers). The peer's secret access key
 * is sealed under this region's master key.
 */
export function registerRegionCommands(program: Command): void {
  const region = program.command("region").description("links to other regions, for replication (docs/replication.md)");

  async function withLinks(flags: ConfigInput, use: (links: RegionLinks) => Promise<void>): Promise<void> {
    const config = loadConfig(flags);
    const { store, keyring } = await openDataDir(config);
    try {
      await use(createRegionLinks({ store, keyring, region: config.region, clock: { now: () => Date.now() } }));
    } finally {
      await store.close();
    }
  }

  dataOptions(region.command("add <name>").description("link this region to region <name>, reachable at --endpoint"))
    .requiredOption("--endpoint <url>", "the peer region's Coffer URL (https:// for TLS)")
    .option("--access-key-id <id>", "an access key of the peer region (default AWS_ACCESS_KEY_ID)")
    .option("--secret-access-key <key>", "its secret (default AWS_SECRET_ACCESS_KEY)")
    .option("--ca-file <pem>", "the CA certificate that signs the peer's TLS certificate")
    .action(async (name: string, o: AddFlags) => {
      const accessKeyId = o.accessKeyId ?? process.env.AWS_ACCESS_KEY_ID;
      const secretAccessKey = o.secretAccessKey ?? process.env.AWS_SECRET_ACCESS_KEY;
      if (!accessKeyId || !secretAccessKey) {
        throw new Error("The peer region's credentials are needed: --access-key-id and --secret-access-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.");
      }
      const caCertificate = o.caFile ? readFileSync(o.caFile, "utf8") : undefined;
      await withLinks(o, async (links) => {
        const link = await links.add({ name, endpoint: o.endpoint, accessKeyId, secretAccessKey, caCertificate });
        process.stdout.write(`linked to ${link.name} at ${link.endpoint}\n`);
      });
    });

  dataOptions(region.command("list").description("the regions this region is linked to")).action(async (o: ConfigInput) => {
    await withLinks(o, async (links) => {
      const rows = (await links.list()).map((l) => ({ ...l, createdAt: new Date(l.createdAt) }));
      process.stdout.write(table(rows, ["name", "endpoint", "accessKeyId", "tls", "createdAt"]));
    });
  });

  dataOptions(region.command("remove <name>").description("remove the link to region <name>")).action(async (name: string, o: ConfigInput) => {
    await withLinks(o, (links) => links.remove(name));
  });
}
