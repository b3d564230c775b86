import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createKeyring } from "../../crypto/keyring.ts";
import { loadMasterKey } from "../../crypto/master-key.ts";
import { openSqliteStore } from "../../storage/sqlite/sqlite-store.ts";
import type { Store } from "../../storage/store.ts";
import type { Principal } from "../identity/identity-types.ts";
import { createPolicyAuthorizer } from "../identity/policy-authorizer.ts";
import { createKeysService } from "../keys/keys-service.ts";
import { createSecretsService } from "../secrets/secrets-service.ts";
import type { ServiceEvent } from "../service-events.ts";
import { createParametersService, type ParametersService } from "./parameters-service.ts";

const HOUR = 3_600_000;
const root: Principal = { arn: "arn:aws:iam::111122223333:root", accountId: "111122223333", accessKeyId: "AKIA", kind: "root" };
let dir: string;
let store: Store;
let now: number;
let parameters: ParametersService;
let recorded: ServiceEvent[];
let recorderFails = false;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "coffer-params-"));
  store = openSqliteStore(join(dir, "db"));
  now = Date.UTC(2030, 0, 1, 12);
  const clock = { now: () => now };
  const masterKey = await loadMasterKey({ kind: "env", base64: randomBytes(32).toString("base64") });
  const keyring = createKeyring({ store, masterKey, region: "us-east-1", clock });
  const authorizer = createPolicyAuthorizer({ store, clock });
  const keyAccess = createKeysService({ store, keyring, authorizer, clock, region: "us-east-1" });
  recorded = [];
  recorderFails = false;
  const serviceEvents = {
    record: async (e: ServiceEvent) => {
      if (recorderFails) throw new Error("audit unavailable");
      recorded.push(e);
    },
  };
  const secrets = createSecretsService({ store, keyring, authorizer, keyAccess, serviceEvents, clock, region: "us-east-1" });
  parameters = createParametersService({ store, keyring, authorizer, keyAccess, secrets, serviceEvents, clock, region: "us-east-1" });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const policies = (...p: object[]) => JSON.stringify(p);

it("NoChangeNotification fires once the parameter has not changed for its period, and re-arms with a new version", async () => {
  await parameters.put(root, {
    name: "/app/flag",
    value: "on",
    type: "String",
    tier: "Advanced",
    policies: policies({ Type: "NoChangeNotification", Version: "1.0", Attributes: { After: "2", Unit: "Hours" } }),
  });
  now += 2 * HOUR - 1;
  await parameters.expireDue();
  expect(recorded).toEqual([]);
  now += 1;
  await parameters.expireDue();
  expect(recorded.map((e) => [e.name, e.service, e.details.name])).toEqual([["ParameterNoChangeNotification", "ssm", "/app/flag"]]);
  await parameters.expireDue(); // sent once
  expect(recorded).toHaveLength(1);
  const [described] = (await parameters.describe(root, { filters: [{ key: "Name", values: ["/app/flag"] }] })).items;
  expect(described.policies.map((p) => p.status)).toEqual(["Finished"]);

  // A new version starts the count again.
  await parameters.put(root, { name: "/app/flag", value: "off", overwrite: true });
  now += 2 * HOUR;
  await parameters.expireDue();
  expect(recorded.map((e) => e.name)).toEqual(["ParameterNoChangeNotification", "ParameterNoChangeNotification"]);
});

it("an expiration is recorded before the parameter goes, and does not happen if it cannot be recorded", async () => {
  await parameters.put(root, {
    name: "/app/temp",
    value: "x",
    type: "SecureString",
    tier: "Intelligent-Tiering",
    policies: policies(
      { Type: "Expiration", Version: "1.0", Attributes: { Timestamp: new Date(now + 10 * HOUR).toISOString() } },
      { Type: "ExpirationNotification", Version: "1.0", Attributes: { Before: "4", Unit: "Hours" } },
    ),
  });
  now += 6 * HOUR;
  expect(await parameters.expireDue()).toBe(0);
  expect(recorded.map((e) => e.name)).toEqual(["ParameterExpirationNotification"]);
  now += 4 * HOUR;
  recorderFails = true;
  await expect(parameters.expireDue()).rejects.toThrow("audit unavailable");
  expect((await parameters.get(root, { name: "/app/temp", withDecryption: true })).value).toBe("x");
  recorderFails = false;
  expect(await parameters.expireDue()).toBe(1);
  expect(recorded.map((e) => e.name)).toEqual(["ParameterExpirationNotification", "DeleteParameter"]);
  expect(recorded[1].resources).toEqual([{ arn: "arn:aws:ssm:us-east-1:111122223333:parameter/app/temp", type: "AWS::SSM::Parameter" }]);
  await expect(parameters.get(root, { name: "/app/temp" })).rejects.toMatchObject({ code: "NotFound" });
  expect(JSON.stringify(recorded)).not.toContain('"x"');
});

it("an overwrite with new policies replaces them, and [] removes them", async () => {
  const expiry = (hours: number) => policies({ Type: "Expiration", Version: "1.0", Attributes: { Timestamp: new Date(now + hours * HOUR).toISOString() } });
  await parameters.put(root, { name: "/app/p", value: "1", type: "String", tier: "Advanced", policies: expiry(1) });
  await parameters.put(root, { name: "/app/p", value: "2", overwrite: true, policies: expiry(5) });
  now += 2 * HOUR;
  expect(await parameters.expireDue()).toBe(0);
  await parameters.put(root, { name: "/app/p", value: "3", overwrite: true, policies: "[]" });
  now += 10 * HOUR;
  expect(await parameters.expireDue()).toBe(0);
  expect((await parameters.get(root, { name: "/app/p" })).value).toBe("3");
  expect((await store.listParametersDue(now, 10)).length).toBe(0);
});
