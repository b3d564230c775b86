import { afterEach, beforeEach, expect, it } from "vitest";
import type { Store } from "../../storage/store.ts";
import type { Principal } from "../identity/identity-types.ts";
import { createSecretsService } from "../secrets/secrets-service.ts";
import { serviceHarness, type ServiceHarness } from "../service-harness.ts";
import { createParametersService, type ParametersService } from "./parameters-service.ts";

const HOUR = 3_600_000;
const root: Principal = { arn: "arn:aws:iam::111122223333:root", accountId: "111122223333", accessKeyId: "AKIA", kind: "root" };
let harness: ServiceHarness;
let store: Store;
let now: number;
let parameters: ParametersService;

beforeEach(async () => {
  now = Date.UTC(2030, 0, 1, 12);
  harness = await serviceHarness({ now: () => now });
  store = harness.store;
  const secrets = createSecretsService(harness);
  parameters = createParametersService({ ...harness, secrets });
});
afterEach(() => harness.close());

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
  expect(harness.events.recorded).toEqual([]);
  now += 1;
  await parameters.expireDue();
  expect(harness.events.recorded.map((e) => [e.name, e.service, e.details.name])).toEqual([["ParameterNoChangeNotification", "ssm", "/app/flag"]]);
  await parameters.expireDue(); // sent once
  expect(harness.events.recorded).toHaveLength(1);
  const [described] = (await parameters.describe(root, { filters: [{ key: "Name", values: ["/app/flag"] }] })).items;
  expect(described.policies.map((p) => p.status)).toEqual(["Finished"]);

  // A new version starts the count again.
  await parameters.put(root, { name: "/app/flag", value: "off", overwrite: true });
  now += 2 * HOUR;
  await parameters.expireDue();
  expect(harness.events.recorded.map((e) => e.name)).toEqual(["ParameterNoChangeNotification", "ParameterNoChangeNotification"]);
});

it("an expiration is harness.events.recorded before the parameter goes, and does not happen if it cannot be harness.events.recorded", async () => {
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
  expect(harness.events.recorded.map((e) => e.name)).toEqual(["ParameterExpirationNotification"]);
  now += 4 * HOUR;
  harness.events.fail = true;
  await expect(parameters.expireDue()).rejects.toThrow("audit unavailable");
  expect((await parameters.get(root, { name: "/app/temp", withDecryption: true })).value).toBe("x");
  harness.events.fail = false;
  expect(await parameters.expireDue()).toBe(1);
  expect(harness.events.recorded.map((e) => e.name)).toEqual(["ParameterExpirationNotification", "DeleteParameter"]);
  expect(harness.events.recorded[1].resources).toEqual([{ arn: "arn:aws:ssm:us-east-1:111122223333:parameter/app/temp", type: "AWS::SSM::Parameter" }]);
  await expect(parameters.get(root, { name: "/app/temp" })).rejects.toMatchObject({ code: "NotFound" });
  expect(JSON.stringify(harness.events.recorded)).not.toContain('"x"');
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
