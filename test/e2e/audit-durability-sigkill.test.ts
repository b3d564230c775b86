import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterEach, expect, it } from "vitest";
import { openSqliteStore } from "../../src/storage/sqlite/sqlite-store.ts";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";

/**
 * The audit trail's promise under a crash: a GetSecretValue the client got a
 * 200 for has its event on disk, even when the server is killed with SIGKILL
 * while other requests' events are still being written (group commit in the
 * writer thread). Events of requests the client never got an answer for may or
 * may not be there; none may be missing for an answered one, and the chain
 * must still verify after the restart.
 */

const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
const CONCURRENCY = 16;

const dirs: string[] = [];
const procs: Spawned[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.child.kill("SIGKILL");
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function client(url: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
  // The SDK keeps connections alive, up to 50 per host: enough for the load below.
  return new SecretsManagerClient({ endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 });
}

it("every GetSecretValue answered 200 before a SIGKILL under load has its audit event after the restart, and the chain verifies", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "coffer-sigkill-"));
  dirs.push(dataDir);
  const server = await spawnServer(["--data-dir", dataDir, "--log-level", "warn"]);
  procs.push(server);
  const credentials = printedCredentials(server.output());
  const sm = client(server.url, credentials);
  await sm.send(new CreateSecretCommand({ Name: "load/db", SecretString: "s3cr3t" }));

  const answered: string[] = [];
  let failed = 0;
  let killed = false;
  const worker = async () => {
    while (!killed) {
      try {
        // The SDK resolves only on a 2xx answer; GetSecretValue's is a 200.
        const got = await sm.send(new GetSecretValueCommand({ SecretId: "load/db" }));
        answered.push(got.$metadata.requestId!);
      } catch {
        // Refused or cut off by the kill: no answer, so no promise about its event.
        failed++;
      }
    }
  };
  const load = Array.from({ length: CONCURRENCY }, worker);
  // A couple of seconds of load, and enough answered requests that the kill lands mid-stream.
  const started = Date.now();
  while (Date.now() - started < 2000 || answered.length < 200) {
    await new Promise((r) => setTimeout(r, 50));
    if (Date.now() - started > 20_000) break;
  }
  server.child.kill("SIGKILL");
  await server.exited;
  killed = true;
  await Promise.all(load);
  sm.destroy();
  expect(answered.length).toBeGreaterThanOrEqual(200);
  expect(new Set(answered).size).toBe(answered.length);

  // Restarted on the same data directory, it serves and audits on, after the events that survived.
  const again = await spawnServer(["--data-dir", dataDir, "--log-level", "warn"]);
  procs.push(again);
  const after = client(again.url, credentials);
  const last = await after.send(new GetSecretValueCommand({ SecretId: "load/db" }));
  after.destroy();
  again.child.kill("SIGTERM");
  expect(await again.exited).toBe(0);

  const store = openSqliteStore(join(dataDir, "coffer.db"));
  let recorded: Set<string>;
  try {
    const rows = await store.listAuditRows(0, 10_000_000);
    recorded = new Set(
      rows
        .filter((r) => r.kind === "event" && r.eventName === "GetSecretValue")
        .map((r) => (JSON.parse(r.record) as { requestID: string; errorCode?: string }))
        .filter((e) => e.errorCode === undefined)
        .map((e) => e.requestID),
    );
  } finally {
    await store.close();
  }
  const missing = answered.filter((id) => !recorded.has(id));
  expect(missing, `${missing.length} of ${answered.length} answered requests (${failed} unanswered) have no audit event`).toEqual([]);
  expect(recorded.has(last.$metadata.requestId!)).toBe(true);

  const verify = await promisify(execFile)(process.execPath, [bin, "audit", "verify", "--data-dir", dataDir]);
  expect(verify.stdout).toContain("audit trail intact");
}, 90_000);
