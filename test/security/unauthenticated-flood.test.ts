import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCoffer, type Running } from "../e2e/harness.ts";
import { signedJson } from "./wire.ts";

// Item 11: unauthenticated traffic cannot fill the disk, and a flood of it
// leaves the server serving good requests.

const BURST = 5;
let run: Running;
beforeAll(async () => {
  // A rate so low that no token comes back while the test runs.
  run = await startCoffer({ env: { COFFER_AUTH_FAILURE_BURST: String(BURST), COFFER_AUTH_FAILURE_RATE: "0.001" } });
  await run.client.send(new CreateSecretCommand({ Name: "flood/a", SecretString: "good" }));
});
afterAll(() => run.stop());

const rows = async () => run.coffer.store.listAuditRows(0, 1_000_000);
const records = async () => (await rows()).map((r) => JSON.parse(r.record) as Record<string, unknown>);

/** A GetSecretValue signed with a wrong secret key, carrying a long User-Agent. */
async function badRequest(userAgent: string): Promise<Response> {
  const body = JSON.stringify({ SecretId: "flood/a" });
  const headers = await signedJson(run.url, { accessKeyId: run.credentials.accessKeyId, secretAccessKey: "wrong" }, "secretsmanager.GetSecretValue", body);
  return fetch(run.url, { method: "POST", headers: { ...Object.fromEntries(headers), "user-agent": userAgent }, body });
}

describe("what one unauthenticated request can write is bounded", () => {
  it("a 12 KB User-Agent is recorded truncated, with its size", async () => {
    const before = (await rows()).length;
    const res = await badRequest("x".repeat(12_000));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { __type: string }).__type).toBe("InvalidSignatureException");
    const added = (await records()).slice(before);
    expect(added).toHaveLength(1);
    const ua = String(added[0].userAgent);
    expect(ua.length).toBeLessThan(600);
    expect(ua).toContain("(truncated, 12000 bytes)");
    expect(JSON.stringify(added[0]).length).toBeLessThan(4_000);
  });

  it("a long X-Amz-Target is recorded truncated too", async () => {
    const before = (await rows()).length;
    const res = await fetch(run.url, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `secretsmanager.${"A".repeat(8_000)}` },
      body: "{}",
    });
    expect(res.status).toBe(400);
    const added = (await records()).slice(before);
    expect(added).toHaveLength(1);
    expect(JSON.stringify(added[0]).length).toBeLessThan(4_000);
  });
});

describe("a flood of bad requests from one source", () => {
  it("is throttled, grows the audit trail by a bounded amount, and good requests are still served", async () => {
    const before = (await rows()).length;
    const N = 300;
    const statuses: string[] = [];
    for (let i = 0; i < N; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => badRequest(`flood-${"y".repeat(2_000)}`)));
      for (const res of batch) statuses.push(((await res.json()) as { __type: string }).__type);
    }
    expect(statuses.filter((t) => t === "ThrottlingException").length).toBeGreaterThanOrEqual(N - BURST);
    expect(statuses.every((t) => t === "ThrottlingException" || t === "InvalidSignatureException")).toBe(true);

    // The same source with a good signature is served, and recorded (fail closed).
    const good = await run.client.send(new GetSecretValueCommand({ SecretId: "flood/a" }));
    expect(good.SecretString).toBe("good");

    const added = (await records()).slice(before);
    // At most the burst left from the tests above, one summary, and the good request.
    expect(added.length).toBeLessThanOrEqual(BURST + 2);
    const summary = added.find((e) => e.eventName === "UnauthenticatedRequestsThrottled");
    expect(summary?.errorCode).toBe("ThrottlingException");
    expect(added.some((e) => e.eventName === "GetSecretValue" && !e.errorCode)).toBe(true);
  });
});
