import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createKeyring } from "../../crypto/keyring.ts";
import { loadMasterKey } from "../../crypto/master-key.ts";
import { openSqliteStore } from "../../storage/sqlite/sqlite-store.ts";
import type { Store } from "../../storage/store.ts";
import { createPolicyAuthorizer } from "../identity/policy-authorizer.ts";
import { createFunctionRegistry, FUNCTIONS_SETTING, type FunctionRegistry } from "./rotation-registry.ts";
import type { RotationSecrets } from "./rotation-types.ts";

const KEY = "legacy-plaintext-hmac-key-93b1";
let dir: string;
let store: Store;
let registry: FunctionRegistry;
let receiver: Server;
let signatures: boolean[];
let url: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "coffer-registry-"));
  store = openSqliteStore(join(dir, "db"));
  const clock = { now: () => Date.now() };
  const masterKey = await loadMasterKey({ kind: "env", base64: randomBytes(32).toString("base64") });
  const keyring = createKeyring({ store, masterKey, region: "us-east-1", clock });
  registry = createFunctionRegistry({ store, keyring, authorizer: createPolicyAuthorizer({ store, clock }), region: "us-east-1", builtins: {} });
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
  await store.close();
  rmSync(dir, { recursive: true, force: true });
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
