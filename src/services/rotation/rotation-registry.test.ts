import { createHmac, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { Store } from "../../storage/store.ts";
import { serviceHarness, type ServiceHarness } from "../service-harness.ts";
import { createFunctionRegistry, FUNCTIONS_SETTING, resealFunctionSecrets, type FunctionRegistry } from "./rotation-registry.ts";
import type { RotationSecrets } from "./rotation-types.ts";
import type { Principal } from "../identity/identity-types.ts";
import { createWebhookClient } from "../webhook/webhook-client.ts";
import { webhookNetworks } from "../webhook/webhook-networks.ts";

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
  registry = createFunctionRegistry({ ...harness, builtins: {}, webhooks: createWebhookClient(webhookNetworks(["127.0.0.0/8"])), isOperator: () => true });
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

it("a command's role must be passable by the caller: its own account's role with iam:PassRole, or another account's role that trusts it", async () => {
  const role = (accountId: string, name: string, trustPolicy: string) =>
    store.transaction((tx) => tx.putPrincipal({ arn: `arn:aws:iam::${accountId}:role/${name}`, id: `AROA${name.toUpperCase()}`, accountId, kind: "role", name, path: "/", createdAt: 0, trustPolicy, inlinePolicies: {}, tags: [] }));
  const trusts = (principal: string) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" }] });
  await role("111122223333", "own", trusts("arn:aws:iam::111122223333:root"));
  await role("444455556666", "theirs", trusts("arn:aws:iam::444455556666:root"));
  await role("444455556666", "shared", trusts("arn:aws:iam::111122223333:root"));
  const root: Principal = { arn: "arn:aws:iam::111122223333:root", accountId: "111122223333", accessKeyId: "AKIAROOT", kind: "root" };
  const command = (name: string, roleArn: string) => ({ name, command: { program: "/bin/true", roleArn } });

  await expect(registry.register(root, command("own", "arn:aws:iam::111122223333:role/own"))).resolves.toMatchObject({ kind: "command" });
  await expect(registry.register(root, command("theirs", "arn:aws:iam::444455556666:role/theirs"))).rejects.toMatchObject({ code: "AccessDenied" });
  await expect(registry.register(root, command("shared", "arn:aws:iam::444455556666:role/shared"))).resolves.toMatchObject({ kind: "command" });
  await expect(registry.register(root, command("missing", "arn:aws:iam::111122223333:role/missing"))).rejects.toMatchObject({ code: "InvalidParameter" });

  // A user (were one an operator) needs an identity policy allowing iam:PassRole on the role.
  const userArn = "arn:aws:iam::111122223333:user/ops";
  const putUser = (policy?: object) =>
    store.transaction((tx) =>
      tx.putPrincipal({ arn: userArn, id: "AIDAOPS", accountId: "111122223333", kind: "user", name: "ops", path: "/", createdAt: 0, inlinePolicies: policy ? { pass: JSON.stringify(policy) } : {}, tags: [] }),
    );
  const user: Principal = { arn: userArn, accountId: "111122223333", accessKeyId: "AKIAOPS", kind: "user" };
  const allow = (Action: string[], Resource: string) => ({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action, Resource }] });
  await putUser(allow(["coffer:RegisterRotationFunction"], "*"));
  await expect(registry.register(user, command("by-user", "arn:aws:iam::111122223333:role/own"))).rejects.toMatchObject({ code: "AccessDenied", message: expect.stringContaining("iam:PassRole") });
  await putUser({ Version: "2012-10-17", Statement: [allow(["coffer:RegisterRotationFunction"], "*").Statement[0], allow(["iam:PassRole"], "arn:aws:iam::111122223333:role/own").Statement[0]] });
  await expect(registry.register(user, command("by-user", "arn:aws:iam::111122223333:role/own"))).resolves.toMatchObject({ kind: "command" });
});

it("never runs a command function an earlier version let a tenant register (no operator mark)", async () => {
  const planted = { "111122223333/planted": { kind: "command", command: ["/bin/true"], roleArn: "arn:aws:iam::111122223333:role/r" } };
  await store.transaction((tx) => tx.putSetting(FUNCTIONS_SETTING, JSON.stringify(planted)));
  expect(await registry.resolve("arn:aws:lambda:us-east-1:111122223333:function:planted")).toBeUndefined();
});

it("a master key rotation re-wraps a webhook's key; it signs with the same key after the old master key is gone", async () => {
  const legacy = { "111122223333/hook": { kind: "webhook", url, secret: KEY } };
  await store.transaction((tx) => tx.putSetting(FUNCTIONS_SETTING, JSON.stringify(legacy)));
  await registry.sealLegacySecrets();
  const before = await store.getSetting(FUNCTIONS_SETTING);
  harness.keyring.useMasterKey({ id: "next-master-key", key: randomBytes(32) });
  expect(await store.transaction((tx) => resealFunctionSecrets(tx, harness.keyring))).toBe(1);
  expect(await store.transaction((tx) => resealFunctionSecrets(tx, harness.keyring))).toBe(0);
  harness.keyring.forgetMasterKeys();
  const after = await store.getSetting(FUNCTIONS_SETTING);
  expect(after).not.toBe(before);
  expect(after).toContain("next-master-key");
  expect(after).not.toContain(KEY);

  const rotator = await registry.resolve("arn:aws:lambda:us-east-1:111122223333:function:hook");
  await rotator!.step({ Step: "setSecret", SecretId: "s", ClientRequestToken: "t" }, {} as RotationSecrets);
  expect(signatures).toEqual([true]);
});
