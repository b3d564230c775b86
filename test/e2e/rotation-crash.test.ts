import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, expect, it } from "vitest";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";

const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
const dirs: string[] = [];
const procs: Spawned[] = [];
const receivers: Server[] = [];
afterAll(() => {
  for (const p of procs) p.child.kill("SIGKILL");
  for (const r of receivers) r.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"];

it.each(STEPS)("a rotation interrupted by kill -9 during %s resumes after restart at that step, with the same token", async (crashStep) => {
  const dir = mkdtempSync(join(tmpdir(), "coffer-crash-"));
  dirs.push(dir);
  let receiver: Server;
  // The receiver is on loopback, which webhooks reach only when the operator allows it.
  const env = { COFFER_ROTATION_POLL_SECONDS: "1", COFFER_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8" };
  let server = await spawnServer(["--data-dir", dir], env);
  procs.push(server);
  const credentials = printedCredentials(server.output());
  let sm = new SecretsManagerClient({ endpoint: server.url, region: "us-east-1", credentials, maxAttempts: 1 });

  const steps: string[] = [];
  let hang = true;
  let hung: () => void = () => undefined;
  const hungNow = new Promise<void>((r) => (hung = r));
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const event = JSON.parse(body) as { Step: string; SecretId: string; ClientRequestToken: string };
      steps.push(event.Step);
      if (event.Step === crashStep && hang) {
        hang = false;
        hung(); // never answer: the server is about to be killed mid-step
        return;
      }
      if (event.Step === "createSecret") {
        await sm.send(new PutSecretValueCommand({ SecretId: event.SecretId, ClientRequestToken: event.ClientRequestToken, SecretString: "rotated", VersionStages: ["AWSPENDING"] }));
      }
      if (event.Step === "finishSecret") {
        const d = await sm.send(new DescribeSecretCommand({ SecretId: event.SecretId }));
        const current = Object.entries(d.VersionIdsToStages!).find(([, s]) => s.includes("AWSCURRENT"))![0];
        if (current !== event.ClientRequestToken) {
          await sm.send(new UpdateSecretVersionStageCommand({ SecretId: event.SecretId, VersionStage: "AWSCURRENT", MoveToVersionId: event.ClientRequestToken, RemoveFromVersionId: current }));
        }
      }
      res.writeHead(200).end();
    });
  });
  receivers.push(receiver);
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/`;
  await promisify(execFile)(process.execPath, [bin, "functions", "add-webhook", "crashy", url, "--secret", "s".repeat(20), "--data-dir", dir], {
    env: { ...process.env, ...env },
  });

  await sm.send(new CreateSecretCommand({ Name: "crash/me", SecretString: "original" }));
  const { VersionId: token } = await sm.send(
    new RotateSecretCommand({ SecretId: "crash/me", RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:crashy" }),
  );
  await hungNow;
  server.child.kill("SIGKILL");
  await server.exited;
  const done = STEPS.slice(0, STEPS.indexOf(crashStep) + 1);
  expect(steps).toEqual(done);

  server = await spawnServer(["--data-dir", dir], env);
  procs.push(server);
  sm = new SecretsManagerClient({ endpoint: server.url, region: "us-east-1", credentials, maxAttempts: 1 });
  // The interrupted step runs again (steps are idempotent), then the rest.
  const expected = [...done, ...STEPS.slice(STEPS.indexOf(crashStep))];
  for (let i = 0; i < 100 && steps.length < expected.length; i++) await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 50; i++) {
    if ((await sm.send(new GetSecretValueCommand({ SecretId: "crash/me" }))).VersionId === token) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(steps).toEqual(expected);
  const got = await sm.send(new GetSecretValueCommand({ SecretId: "crash/me" }));
  expect(got).toMatchObject({ VersionId: token, SecretString: "rotated" });
  expect((await sm.send(new GetSecretValueCommand({ SecretId: "crash/me", VersionStage: "AWSPREVIOUS" }))).SecretString).toBe("original");
});
