import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReplicationPeer } from "../../src/app/replication-peer.ts";
import { coffer, finished, isolatedEnv } from "./cli-process.ts";
import { failure } from "./harness.ts";
import { dropRegion, eventually, link, startRegion, type Region } from "./replication-regions.ts";

let east: Region;
let west: Region;
let eu: Region;

beforeAll(async () => {
  [east, west, eu] = await Promise.all([startRegion("us-east-1"), startRegion("us-west-2"), startRegion("eu-west-1")]);
  for (const [a, b] of [
    [east, west],
    [east, eu],
    [west, east],
    [eu, east],
  ] as const) {
    await link(a, b);
  }
}, 60_000);
afterAll(async () => {
  await Promise.all([east, west, eu].map(dropRegion));
});

const statusOf = async (client: SecretsManagerClient, id: string) =>
  Object.fromEntries(((await client.send(new DescribeSecretCommand({ SecretId: id }))).ReplicationStatus ?? []).map((r) => [r.Region, r.Status]));

describe("replication to three regions", () => {
  it("keeps one replica InSync while another region is down, and catches the other up when it returns", async () => {
    await east.client.send(
      new CreateSecretCommand({ Name: "shared", SecretString: "1", AddReplicaRegions: [{ Region: "us-west-2" }, { Region: "eu-west-1" }] }),
    );
    await eventually(async () => JSON.stringify(await statusOf(east.client, "shared")) === JSON.stringify({ "us-west-2": "InSync", "eu-west-1": "InSync" }));
    await eu.stop();
    await east.client.send(new PutSecretValueCommand({ SecretId: "shared", SecretString: "2" }));
    await eventually(async () => (await west.client.send(new GetSecretValueCommand({ SecretId: "shared" }))).SecretString === "2");
    await eventually(async () => (await statusOf(east.client, "shared"))["eu-west-1"] === "InProgress");
    expect((await statusOf(east.client, "shared"))["us-west-2"]).toBe("InSync");
    await eu.start();
    await eventually(async () => (await statusOf(east.client, "shared"))["eu-west-1"] === "InSync");
    expect((await eu.client.send(new GetSecretValueCommand({ SecretId: "shared" }))).SecretString).toBe("2");
  }, 60_000);

  it("a replica never applies an older change over a newer one", async () => {
    const arn = (await east.client.send(new DescribeSecretCommand({ SecretId: "shared" }))).ARN!;
    // The same call the primary makes, signed with its link's credentials, carrying an old state (seq 1, value "0").
    const peer = createReplicationPeer();
    const link = { name: "us-west-2", endpoint: west.run.url, ...west.credentials };
    const old = {
      primaryArn: arn,
      primaryRegion: "us-east-1",
      accountId: "000000000000",
      name: "shared",
      seq: 1,
      tags: [],
      createdAt: 1,
      lastChangedAt: 1,
      versions: [{ versionId: "11111111-1111-4111-8111-111111111111", createdAt: 1, stages: ["AWSCURRENT"], valueKind: "string" as const, value: Buffer.from("0") }],
    };
    const outcome = await peer.apply(link, old);
    expect(outcome.outcome).toBe("Stale");
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "shared" }))).SecretString).toBe("2");
    // And a caller without the link's account cannot apply anything.
    const stranger = await failure(peer.apply({ ...link, secretAccessKey: "wrong".repeat(8) }, { ...old, seq: 99 }));
    expect(stranger.message).toMatch(/^InvalidSignatureException/);
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "shared" }))).SecretString).toBe("2");
  });

  it("coffer region add, list and remove link regions; a region refuses to replicate to a name it has no link for", async () => {
    const home = mkdtempSync(`${tmpdir()}/coffer-region-cli-`);
    const env = { ...isolatedEnv(home, west.credentials), COFFER_REGION: "us-west-2" };
    const dataDir = west.run.dataDir;
    // The region's data: its SQLite file in the data directory, or its PostgreSQL schema under `npm run test:postgres`.
    const data = west.run.databaseUrl ? ["--data-dir", dataDir, "--database-url", west.run.databaseUrl] : ["--data-dir", dataDir];
    try {
      const added = await finished(
        coffer(["region", "add", "ap-south-1", "--endpoint", "https://ap.example:8443", ...data], {
          ...env,
          AWS_ACCESS_KEY_ID: "AKIDEXAMPLEAPSOUTH1",
          AWS_SECRET_ACCESS_KEY: "a-secret-that-must-not-show-in-listings",
        }),
      );
      expect(added.code, added.stderr).toBe(0);
      const listed = await finished(coffer(["region", "list", ...data], env));
      expect(listed.stdout).toMatch(/ap-south-1\s+https:\/\/ap\.example:8443\s+AKIDEXAMPLEAPSOUTH1\s+public CA/);
      expect(listed.stdout).toMatch(/us-east-1/);
      expect(listed.stdout).not.toMatch(/a-secret-that-must-not-show/);
      const removed = await finished(coffer(["region", "remove", "ap-south-1", ...data], env));
      expect(removed.code, removed.stderr).toBe(0);
      expect((await finished(coffer(["region", "list", ...data], env))).stdout).not.toMatch(/ap-south-1/);
      // west has no link to eu-west-1.
      const err = await failure(west.client.send(new CreateSecretCommand({ Name: "w", SecretString: "x", AddReplicaRegions: [{ Region: "eu-west-1" }] })));
      expect(err.name).toBe("InvalidParameterException");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);
});
