import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Store } from "../../storage/store.ts";
import type { Principal } from "../identity/identity-types.ts";
import { createSecretsService, type SecretsService } from "../secrets/secrets-service.ts";
import { serviceHarness, type ServiceHarness } from "../service-harness.ts";
import { randomValueRotator } from "./rotation-functions.ts";
import { createRotationService, stateOf, type RotationService } from "./rotation-service.ts";
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
/** While set, createSecret waits for it: a node is busy (or dead) inside a step. */
let hold: Promise<void> | undefined;

beforeEach(async () => {
  now = Date.UTC(2026, 0, 1, 12);
  calls = [];
  hold = undefined;
  harness = await serviceHarness({ now: () => now });
  store = harness.store;
  secrets = createSecretsService(harness);
});
afterEach(() => harness.close());

function node(name: string): RotationService {
  const recording: Rotator = {
    async step(event: RotationEvent, api) {
      calls.push(`${name} ${event.Step}`);
      if (event.Step === "createSecret" && hold) await hold;
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
  expect(stateOf(secret)?.inProgress).toBeUndefined();
  expect(stateOf(secret)?.lastRotatedAt).toBe(now);
});

it("leaves a rotation another node holds alone until its claim lapses, then takes it over", async () => {
  const arn = await dueSecret();
  let release!: () => void;
  hold = new Promise((resolve) => (release = resolve));
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

  // a is gone (its step never returns); past the claim, b resumes the same rotation.
  const token = stateOf((await store.getSecret(arn))!)!.inProgress!.token;
  now += 2 * MINUTE;
  hold = undefined;
  await b.runDue();
  await b.idle();
  expect(stepsOf("b")).toEqual(["createSecret", "setSecret", "testSecret", "finishSecret"]);
  const current = await secrets.getValue(root, { secretId: arn });
  expect(current.versionId).toBe(token);

  release();
  await running;
});

it("lets a restarted node take its own rotation back at once", async () => {
  const arn = await dueSecret();
  hold = new Promise(() => {}); // the first life of node a never finishes createSecret
  void node("a").runDue();
  await vi.waitFor(() => expect(calls).toContain("a createSecret"));
  hold = undefined;

  const restarted = node("a");
  await restarted.runDue();
  await restarted.idle();
  expect(stepsOf("a")).toEqual(["createSecret", "createSecret", "setSecret", "testSecret", "finishSecret"]);
  expect(stateOf((await store.getSecret(arn))!)?.inProgress).toBeUndefined();
});

it("refuses RotateSecret while another node's rotation is under way", async () => {
  const arn = await dueSecret();
  hold = new Promise(() => {});
  void node("a").runDue();
  await vi.waitFor(() => expect(calls).toContain("a createSecret"));
  await expect(node("b").rotate(root, { secretId: arn })).rejects.toMatchObject({ code: "InvalidRequest" });
});
