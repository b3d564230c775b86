import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Store } from "../../storage/store.ts";
import { serviceHarness, type ServiceHarness } from "../service-harness.ts";
import { createFunctionRegistry, FUNCTIONS_SETTING, type FunctionRegistry } from "./rotation-registry.ts";
import type { RotationSecrets } from "./rotation-types.ts";

const KEY = "legacy-plaintext-hmac-key-93b1";
let harness: ServiceHarness;
let store: Store;
let registry: FunctionRegistry;
let receiver: Server;
let signatures: boolean[];
let url: string;

beforeEach(async () => {
  harness = await serviceHarness({ now: () => Date.now() });
  store = harness.store;
  registry = createFunctionRegistry({ ...harness, builtins: {} });
  signatures = [];
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      signatures.push(req.headers["x-coffer-signature"] === `sha256=${createHmac("sha256", KEY).update(body).digest("hex")}`);
      res.end("{}");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/`;
});
afterEach(async () => {
  receiver.close();
  await harness.close();
});

it("seals a webhook key an earlier version kept in plaintext, and still signs with it", async () => {
  const legacy = { "111122223333/hook": { kind: "webhook", url, secret: KEY } };
  await store.transaction((tx) => tx.putSetting(FUNCTIONS_SETTING, JSON.stringify(legacy)));
  expect(await registry.sealLegacySecrets()).toBe(1);
  expect(await registry.sealLegacySecrets()).toBe(0);
  expect(await store.getSetting(FUNCTIONS_SETTING)).not.toContain(KEY);

  const rotator = await registry.resolve("arn:aws:lambda:us-east-1:111122223333:function:hook");
  await rotator!.step({ Step: "setSecret", SecretId: "s", ClientRequestToken: "t" }, {} as RotationSecrets);
  expect(signatures).toEqual([true]);
});
