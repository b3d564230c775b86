import { rmSync } from "node:fs";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { openDataDir } from "../../src/app/compose.ts";
import { createRegionLinks } from "../../src/services/replication/region-links.ts";
import { startCoffer, type Running } from "./harness.ts";

/**
 * Regions for the replication tests: each a real Coffer server with its own
 * region name, data directory and master key, on its own port; one can be
 * stopped (its port then refuses connections) and started again on the
 * same port with its data, as an outage and its end.
 */
export interface Region {
  name: string;
  run: Running;
  port: number;
  credentials: { accessKeyId: string; secretAccessKey: string };
  client: SecretsManagerClient;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const FAST = { COFFER_REPLICATION_POLL_SECONDS: "0.2", COFFER_REPLICATION_RETRY_MAX_SECONDS: "1" };

export async function startRegion(name: string): Promise<Region> {
  const first = await startCoffer({ env: { COFFER_REGION: name, ...FAST } });
  const port = Number(new URL(first.url).port);
  const credentials = first.credentials;
  const clientOf = (url: string) => new SecretsManagerClient({ endpoint: url, region: name, credentials, maxAttempts: 1 });
  const region: Region = {
    name,
    run: first,
    port,
    credentials,
    client: clientOf(first.url),
    async stop() {
      await region.run.coffer.stop();
    },
    async start() {
      region.run = await startCoffer({ env: { COFFER_REGION: name, ...FAST }, dataDir: first.dataDir, port });
    },
  };
  return region;
}

export async function dropRegion(region: Region): Promise<void> {
  await region.run.coffer.stop().catch(() => undefined);
  rmSync(region.run.dataDir, { recursive: true, force: true });
}

/** `coffer region add` from `from` to `to`, on `from`'s data (what the CLI does; the CLI itself is tested once). */
export async function link(from: Region, to: Region): Promise<void> {
  const { store, keyring } = await openDataDir(from.run.coffer.config);
  try {
    await createRegionLinks({ store, keyring, region: from.name, clock: { now: () => Date.now() } }).add({
      name: to.name,
      endpoint: `http://127.0.0.1:${to.port}`,
      ...to.credentials,
    });
  } finally {
    await store.close();
  }
}

/** Polls `probe` until it returns something truthy (or throws its last error after `ms`). */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = new Error("not yet");
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The names of the events a region's trail recorded for `eventName`. */
export async function auditedEvents(region: Region, eventName: string): Promise<{ resources: string[] }[]> {
  const ct = new CloudTrailClient({ endpoint: region.run.url, region: region.name, credentials: region.credentials, maxAttempts: 1 });
  const out = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: eventName }] }));
  return (out.Events ?? []).map((e) => ({ resources: (e.Resources ?? []).map((r) => r.ResourceName ?? "") }));
}
