import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKeyring } from "../crypto/keyring.ts";
import { loadMasterKey } from "../crypto/master-key.ts";
import { openSqliteStore } from "../storage/sqlite/sqlite-store.ts";
import { createPolicyAuthorizer } from "./identity/policy-authorizer.ts";
import { createKeysService } from "./keys/keys-service.ts";
import type { ServiceEvent, ServiceEventSink } from "./service-events.ts";

/**
 * What service tests stand on: a fresh SQLite store in a temporary directory,
 * a random master key, and the keyring, authorizer and key checks every
 * service takes, all on the test's clock; and a service-event sink that keeps
 * what it is given in `events.recorded`, or fails while `events.fail` is set.
 */
export async function serviceHarness(clock: { now(): number }, region = "us-east-1") {
  const dir = mkdtempSync(join(tmpdir(), "coffer-svc-"));
  const store = openSqliteStore(join(dir, "db"));
  const masterKey = await loadMasterKey({ kind: "env", base64: randomBytes(32).toString("base64") });
  const keyring = createKeyring({ store, masterKey, region, clock });
  const authorizer = createPolicyAuthorizer({ store, clock });
  const keyAccess = createKeysService({ store, keyring, authorizer, clock, region });
  const events = { recorded: [] as ServiceEvent[], fail: false };
  const serviceEvents: ServiceEventSink = {
    async record(event) {
      if (events.fail) throw new Error("audit unavailable");
      events.recorded.push(event);
    },
  };
  return {
    store,
    keyring,
    authorizer,
    keyAccess,
    clock,
    region,
    serviceEvents,
    events,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type ServiceHarness = Awaited<ReturnType<typeof serviceHarness>>;
