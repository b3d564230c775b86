import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Store } from "../../storage/store.ts";
import type { Principal } from "../identity/identity-types.ts";
import { createSecretsService, type SecretsService } from "../secrets/secrets-service.ts";
import { serviceHarness, type ServiceHarness } from "../service-harness.ts";
import { randomValueRotator } from "./rotation-functions.ts";
import { createRotationService, type RotationService } from "./rotation-service.ts";
import type { RotationEvent, Rotator } from "./rotation-types.ts";

// Several nodes sharing one Store: each due rotation must run on exactly one of them.

const ACCOUNT = "111122223333";
const root: Principal = { arn: `arn:aws:iam::${ACCOUNT}:root`, accountId: ACCOUNT, accessKeyId: "AKIA", kind: "root" };
const FUNCTION = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:coffer-random-value`;
const MINUTE = 60_000;

let harness: ServiceHarness;
let store: Store;
let now: number;
let secrets: SecretsService;
/** Every step any node ran, as "<node> <step>". */
let calls: string[];
/** "<node> <step>" -> what that step waits for: the node is busy, paused or dead inside it. */
let holds: Map<string, Promise<void>>;

beforeEach(async () => {
  now = Date.UTC(2026, 0, 1, 12);
  calls = [];
  holds = new Map();
  harness = await serviceHarness({ now: () => now });
  store = harness.store;
  secrets = createSecretsService(harness);
});
afterEach(() => harness.close());

function node(name: string): RotationService {
  const recording: Rotator = {
    async step(event: RotationEvent, api) {
      calls.push(`${name} ${event.Step}`);
      await holds.get(`${name} ${event.Step}`);
      await randomValueRotator.step(event, api);
    },
  };
  return createRotationService({
    ...harness,
    secrets,
    node: name,
    resolveFunction: async (arn) => (arn === FUNCTION ? recording : undefined),
  });
}

/** Makes `<node> <step>` wait until the returned function is called (or forever, if it never is). */
function hold(at: string): () => void {
  let release!: () => void;
  holds.set(at, new Promise((resolve) => (release = resolve)));
  return () => {
    holds.delete(at);
    release();
  };
}

/** A secret whose scheduled rotation is due now. */
async function dueSecret(): Promise<string> {
  const { arn } = await secrets.create(root, { name: "api-key", value: { kind: "string", text: "first" } });
  await node("setup").rotate(root, { secretId: arn, functionArn: FUNCTION, rules: { automaticallyAfterDays: 1 }, rotateImmediately: false });
  now += 2 * 86_400_000;
  return arn;
}

const stepsOf = (nodeName: string) => calls.filter((c) => c.startsWith(`${nodeName} `)).map((c) => c.split(" ")[1]);

it("runs a due rotation on exactly one of several nodes polling at once", async () => {
  const arn = await dueSecret();
  const nodes = ["a", "b", "c", "d"].map(node);
  await Promise.all(nodes.map((n) => n.runDue()));
  await Promise.all(nodes.map((n) => n.idle()));
  expect(calls.filter((c) => c.endsWith("createSecret"))).toHaveLength(1);
  const runner = calls[0].split(" ")[0];
  expect(stepsOf(runner)).toEqual(["createSecret", "setSecret", "testSecret", "finishSecret"]);
  expect(calls).toHaveLength(4);
  const secret = (await store.getSecret(arn))!;
  expect(secret.rotation?.inProgress).toBeUndefined();
  expect(secret.rotation?.lastRotatedAt).toBe(now);
});

it("leaves a rotation another node holds alone until its claim lapses, then takes it over", async () => {
  const arn = await dueSecret();
  const wakeA = hold("a createSecret");
  const a = node("a");
  const b = node("b");
  const running = a.runDue();
  await vi.waitFor(() => expect(calls).toContain("a createSecret"));

  // a is inside createSecret: b finds the rotation due but may not touch it.
  await b.runDue();
  expect(stepsOf("b")).toEqual([]);
  now += MINUTE;
  await b.runDue();
  expect(stepsOf("b")).toEqual([]);

  // a is paused past its claim: b resumes the same rotation (and is itself held inside setSecret).
  const token = (await store.getSecret(arn))!.rotation!.inProgress!.token;
  now += 2 * MINUTE;
  const wakeB = hold("b setSecret");
  const taking = b.runDue();
  await vi.waitFor(() => expect(calls).toContain("b setSecret"));

  // a wakes up and finishes its createSecret: the rotation is b's now, so a stops rather than run on beside it.
  wakeA();
  await running;
  await a.idle();
  expect(stepsOf("a")).toEqual(["createSecret"]);
  expect((await store.getSecret(arn))!.rotation!.inProgress).toMatchObject({ token, claim: { node: "b" } });

  wakeB();
  await taking;
  await b.idle();
  expect(stepsOf("b")).toEqual(["createSecret", "setSecret", "testSecret", "finishSecret"]);
  const after = (await store.getSecret(arn))!.rotation!;
  expect(after.inProgress).toBeUndefined();
  expect(after.lastRotatedAt).toBe(now);
  expect((await secrets.getValue(root, { secretId: arn })).versionId).toBe(token);
});

it("lets a restarted node take its own rotation back at once", async () => {
  const arn = await dueSecret();
  hold("a createSecret"); // the first life of node a never finishes createSecret
  void node("a").runDue();
  await vi.waitFor(() => expect(calls).toContain("a createSecret"));
  holds.clear();

  const restarted = node("a");
  await restarted.runDue();
  await restarted.idle();
  expect(stepsOf("a")).toEqual(["createSecret", "createSecret", "setSecret", "testSecret", "finishSecret"]);
  expect((await store.getSecret(arn))!.rotation?.inProgress).toBeUndefined();
});

it("refuses RotateSecret while another node's rotation is under way", async () => {
  const arn = await dueSecret();
  hold("a createSecret");
  void node("a").runDue();
  await vi.waitFor(() => expect(calls).toContain("a createSecret"));
  await expect(node("b").rotate(root, { secretId: arn })).rejects.toMatchObject({ code: "InvalidRequest" });
});
