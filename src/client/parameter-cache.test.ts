import {
  GetParameterCommand,
  type GetParameterCommandOutput,
  type GetParametersByPathCommand,
  type GetParametersByPathCommandOutput,
  type Parameter,
} from "@aws-sdk/client-ssm";
import { expect, it } from "vitest";
import { ParameterCache, type SsmSender } from "./parameter-cache.ts";

/** A Parameter Store with GetParameter and paged GetParametersByPath (two per page, to exercise NextToken). */
class FakeSsm implements SsmSender {
  calls: { op: string; input: object }[] = [];
  params = new Map<string, { Value: string; Type: "String" | "SecureString" | "StringList" }>();
  version = 1;

  send(command: GetParameterCommand): Promise<GetParameterCommandOutput>;
  send(command: GetParametersByPathCommand): Promise<GetParametersByPathCommandOutput>;
  async send(command: GetParameterCommand | GetParametersByPathCommand): Promise<GetParameterCommandOutput | GetParametersByPathCommandOutput> {
    if (command instanceof GetParameterCommand) {
      const input = command.input;
      this.calls.push({ op: "GetParameter", input });
      const p = this.params.get(input.Name!);
      if (!p) {
        throw Object.assign(new Error(""), { name: "ParameterNotFound", $fault: "client", $metadata: { httpStatusCode: 400 } });
      }
      return { $metadata: {}, Parameter: this.shape(input.Name!, p, input.WithDecryption === true) };
    }
    const input = command.input;
    this.calls.push({ op: "GetParametersByPath", input });
    const path = input.Path!.endsWith("/") ? input.Path! : input.Path! + "/";
    const all = [...this.params.keys()]
      .sort()
      .filter((name) => name.startsWith(path) && (input.Recursive || !name.slice(path.length).includes("/")));
    const start = Number(input.NextToken ?? 0);
    const page = all.slice(start, start + 2);
    return {
      $metadata: {},
      Parameters: page.map((name) => this.shape(name, this.params.get(name)!, input.WithDecryption === true)),
      NextToken: start + 2 < all.length ? String(start + 2) : undefined,
    };
  }

  private shape(name: string, p: { Value: string; Type: "String" | "SecureString" | "StringList" }, decrypt: boolean): Parameter {
    return {
      Name: name,
      Type: p.Type,
      Value: p.Type === "SecureString" && !decrypt ? "ciphertext" : p.Value,
      Version: this.version,
      ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${name}`,
      LastModifiedDate: new Date(1_700_000_000_000),
      DataType: "text",
    };
  }
}

function setup() {
  const clock = { t: 0, now() { return this.t; } };
  const ssm = new FakeSsm();
  ssm.params.set("/prod/app/db/host", { Value: "db.internal", Type: "String" });
  ssm.params.set("/prod/app/db/password", { Value: "s3cret", Type: "SecureString" });
  ssm.params.set("/prod/app/mode", { Value: "fast", Type: "String" });
  const cache = new ParameterCache({ client: ssm, clock, ttlMs: 1000, refreshAheadMs: 0 });
  return { clock, ssm, cache };
}

it("caches GetParameter with decryption by default, until the TTL passes", async () => {
  const { clock, ssm, cache } = setup();
  expect(cache.peekParameterValue("/prod/app/db/password")).toBeUndefined();
  expect(await cache.getParameterValue("/prod/app/db/password")).toBe("s3cret");
  expect(cache.peekParameterValue("/prod/app/db/password")).toBe("s3cret");
  const p = await cache.getParameter("/prod/app/db/password");
  expect(p).toMatchObject({ Name: "/prod/app/db/password", Type: "SecureString", Version: 1 });
  expect(Object.isFrozen(p)).toBe(true);
  expect(ssm.calls).toEqual([{ op: "GetParameter", input: { Name: "/prod/app/db/password", WithDecryption: true } }]);
  clock.t += 1000;
  await cache.getParameterValue("/prod/app/db/password");
  expect(ssm.calls).toHaveLength(2);
});

it("keys undecrypted reads apart", async () => {
  const { ssm, cache } = setup();
  expect(await cache.getParameterValue("/prod/app/db/password", { withDecryption: false })).toBe("ciphertext");
  expect(await cache.getParameterValue("/prod/app/db/password")).toBe("s3cret");
  expect(ssm.calls.map((c) => c.input)).toEqual([
    { Name: "/prod/app/db/password", WithDecryption: false },
    { Name: "/prod/app/db/password", WithDecryption: true },
  ]);
});

it("shares concurrent misses and propagates errors unchanged", async () => {
  const { ssm, cache } = setup();
  const reads = await Promise.all(Array.from({ length: 20 }, () => cache.getParameterValue("/prod/app/mode")));
  expect(new Set(reads)).toEqual(new Set(["fast"]));
  expect(ssm.calls).toHaveLength(1);
  await expect(cache.getParameterValue("/nope")).rejects.toMatchObject({ name: "ParameterNotFound" });
});

it("reads a path across pages, one level or recursively, cached per path", async () => {
  const { clock, ssm, cache } = setup();
  const oneLevel = await cache.getParametersByPath("/prod/app/");
  expect(oneLevel.map((p) => p.Name)).toEqual(["/prod/app/mode"]);
  const all = await cache.getParametersByPath("/prod/app/", { recursive: true });
  expect(all.map((p) => [p.Name, p.Value])).toEqual([
    ["/prod/app/db/host", "db.internal"],
    ["/prod/app/db/password", "s3cret"],
    ["/prod/app/mode", "fast"],
  ]);
  expect(ssm.calls.filter((c) => c.op === "GetParametersByPath")).toHaveLength(3); // 1 + 2 pages
  await cache.getParametersByPath("/prod/app/", { recursive: true });
  expect(ssm.calls).toHaveLength(3);
  clock.t += 1000;
  await cache.getParametersByPath("/prod/app/", { recursive: true });
  expect(ssm.calls).toHaveLength(5);
});

it("refreshes and invalidates a parameter and the paths above it", async () => {
  const { ssm, cache } = setup();
  await cache.getParameterValue("/prod/app/mode");
  await cache.getParametersByPath("/prod/app/");
  await cache.getParametersByPath("/other/");
  ssm.params.set("/prod/app/mode", { Value: "slow", Type: "String" });
  expect((await cache.refresh("/prod/app/mode")).Value).toBe("slow");
  expect(cache.peekParameterValue("/prod/app/mode")).toBe("slow");
  const before = ssm.calls.length;
  cache.invalidate("/prod/app/mode");
  expect(cache.peekParameterValue("/prod/app/mode")).toBeUndefined();
  expect((await cache.getParametersByPath("/prod/app/")).map((p) => p.Value)).toEqual(["slow"]);
  await cache.getParametersByPath("/other/");
  expect(ssm.calls.length).toBe(before + 1);
  cache.invalidate();
  await cache.getParametersByPath("/other/");
  expect(ssm.calls.length).toBe(before + 2);
});

it("withParameter re-reads once and retries when fn fails with an authentication error", async () => {
  const { ssm, cache } = setup();
  await cache.getParameterValue("/prod/app/db/password");
  ssm.params.set("/prod/app/db/password", { Value: "rotated", Type: "SecureString" });
  ssm.version = 2;
  const seen: string[] = [];
  const out = await cache.withParameter("/prod/app/db/password", (value) => {
    seen.push(value);
    if (value !== "rotated") throw Object.assign(new Error("unauthorized"), { status: 401 });
    return "ok";
  });
  expect(out).toBe("ok");
  expect(seen).toEqual(["s3cret", "rotated"]);
  expect(ssm.calls).toHaveLength(2);
  expect(cache.peekParameterValue("/prod/app/db/password")).toBe("rotated");
  let calls = 0;
  await expect(
    cache.withParameter("/prod/app/mode", () => {
      calls++;
      throw new Error("boom");
    }),
  ).rejects.toThrow("boom");
  expect(calls).toBe(1);
});
