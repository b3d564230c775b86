import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  ListSecretsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  RotateSecretCommand,
  StopReplicationToReplicaCommand,
  TagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "./harness.ts";
import { auditedEvents, dropRegion, eventually, link, startRegion, type Region } from "./replication-regions.ts";

const REPLICA_WRITE = "Operation not permitted on a replica secret. Call must be made in primary secret's region.";

let east: Region;
let west: Region;

beforeAll(async () => {
  [east, west] = await Promise.all([startRegion("us-east-1"), startRegion("us-west-2")]);
  await link(east, west);
  await link(west, east);
}, 60_000);
afterAll(async () => {
  await Promise.all([east, west].map(dropRegion));
});

const statusIn = async (client: SecretsManagerClient, id: string) => (await client.send(new DescribeSecretCommand({ SecretId: id }))).ReplicationStatus;

/** The versions of a secret with their stages, as a region lists them. */
async function versionsIn(client: SecretsManagerClient, id: string) {
  const out = await client.send(new ListSecretVersionIdsCommand({ SecretId: id, IncludeDeprecated: true }));
  return Object.fromEntries((out.Versions ?? []).map((v) => [v.VersionId!, [...(v.VersionStages ?? [])].sort()]));
}

async function inSync(id: string, region = "us-west-2") {
  return eventually(async () => (await statusIn(east.client, id))?.find((r) => r.Region === region && r.Status === "InSync"));
}

describe("replication between two regions", () => {
  it("creates a replica with the secret: InSync, readable in the replica region under its own ARN and key, read-only there", async () => {
    const created = await east.client.send(
      new CreateSecretCommand({ Name: "db/app", SecretString: "v1", Description: "first", AddReplicaRegions: [{ Region: "us-west-2" }] }),
    );
    expect(created.ReplicationStatus).toEqual([{ Region: "us-west-2", KmsKeyId: "alias/aws/secretsmanager", Status: "InProgress" }]);
    await inSync("db/app");
    const replicaArn = created.ARN!.replace(":us-east-1:", ":us-west-2:");
    const value = await west.client.send(new GetSecretValueCommand({ SecretId: "db/app" }));
    expect(value).toMatchObject({ ARN: replicaArn, SecretString: "v1", VersionId: created.VersionId, VersionStages: ["AWSCURRENT"] });
    const described = await west.client.send(new DescribeSecretCommand({ SecretId: replicaArn }));
    expect(described).toMatchObject({ PrimaryRegion: "us-east-1", Description: "first" });
    expect(described.ReplicationStatus).toBeUndefined();
    // Sealed again under the replica region's own key.
    const listed = await west.client.send(new ListSecretVersionIdsCommand({ SecretId: "db/app" }));
    expect(listed.Versions![0].KmsKeyIds![0]).toMatch(/^arn:aws:kms:us-west-2:/);

    // Writes to the replica are refused with AWS's error; reads stay local.
    for (const write of [
      new PutSecretValueCommand({ SecretId: "db/app", SecretString: "no" }),
      new UpdateSecretCommand({ SecretId: "db/app", Description: "no" }),
      new TagResourceCommand({ SecretId: "db/app", Tags: [{ Key: "a", Value: "b" }] }),
      new DeleteSecretCommand({ SecretId: "db/app", ForceDeleteWithoutRecovery: true }),
      new RotateSecretCommand({ SecretId: "db/app", RotationLambdaARN: "arn:aws:lambda:us-west-2:000000000000:function:x" }),
    ]) {
      const err = await failure(west.client.send(write as never));
      expect(err.name).toBe("InvalidParameterException");
      expect(err.message).toBe(REPLICA_WRITE);
    }
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "db/app" }))).SecretString).toBe("v1");

    // ListSecrets shows the primary region in both.
    const inWest = await west.client.send(new ListSecretsCommand({ Filters: [{ Key: "primary-region", Values: ["us-east-1"] }] }));
    expect(inWest.SecretList?.map((s) => s.Name)).toContain("db/app");
  });

  it("replicates a new version, a label move, tags, description and resource policy", async () => {
    const v2 = await east.client.send(new PutSecretValueCommand({ SecretId: "db/app", SecretString: "v2" }));
    await east.client.send(
      new UpdateSecretVersionStageCommand({ SecretId: "db/app", VersionStage: "BLUE", MoveToVersionId: v2.VersionId }),
    );
    await east.client.send(new TagResourceCommand({ SecretId: "db/app", Tags: [{ Key: "team", Value: "payments" }] }));
    await east.client.send(new UpdateSecretCommand({ SecretId: "db/app", Description: "second" }));
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Deny", Principal: { AWS: "arn:aws:iam::111122223333:root" }, Action: "secretsmanager:DeleteSecret", Resource: "*" }],
    });
    await east.client.send(new PutResourcePolicyCommand({ SecretId: "db/app", ResourcePolicy: policy }));

    const primary = await versionsIn(east.client, "db/app");
    await eventually(async () => JSON.stringify(await versionsIn(west.client, "db/app")) === JSON.stringify(primary));
    expect(primary[v2.VersionId!]).toEqual(["AWSCURRENT", "BLUE"]);
    await eventually(async () => (await west.client.send(new DescribeSecretCommand({ SecretId: "db/app" }))).Description === "second");
    const replica = await west.client.send(new DescribeSecretCommand({ SecretId: "db/app" }));
    expect(replica.Tags).toEqual([{ Key: "team", Value: "payments" }]);
    expect((await west.client.send(new GetResourcePolicyCommand({ SecretId: "db/app" }))).ResourcePolicy).toBe(policy);
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "db/app", VersionStage: "AWSPREVIOUS" }))).SecretString).toBe("v1");
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "db/app" }))).SecretString).toBe("v2");
  });

  it("rotates in the primary only; the rotation's result replicates, and the replica keeps no schedule of its own", async () => {
    await east.client.send(new CreateSecretCommand({ Name: "rotated", SecretString: "initial", AddReplicaRegions: [{ Region: "us-west-2" }] }));
    await inSync("rotated");
    const r = await east.client.send(
      new RotateSecretCommand({
        SecretId: "rotated",
        RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:coffer-random-value",
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await east.run.coffer.rotation.idle();
    const rotated = await east.client.send(new GetSecretValueCommand({ SecretId: "rotated" }));
    expect(rotated.VersionId).toBe(r.VersionId);
    await eventually(async () => (await west.client.send(new GetSecretValueCommand({ SecretId: "rotated" }))).VersionId === r.VersionId);
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "rotated" }))).SecretString).toBe(rotated.SecretString);
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "rotated", VersionStage: "AWSPREVIOUS" }))).SecretString).toBe("initial");
    const replica = await eventually(async () => {
      const d = await west.client.send(new DescribeSecretCommand({ SecretId: "rotated" }));
      return d.RotationEnabled && d.LastRotatedDate ? d : undefined;
    });
    expect(replica.RotationLambdaARN).toMatch(/coffer-random-value$/);
    // Nothing is due for rotation in the replica region: its scheduler finds no job.
    expect(await west.run.coffer.store.listSecretsDueForRotation(Date.now() + 400 * 86_400_000, 10)).toEqual([]);
  });

  it("refuses to delete a primary that has replicas, and to replicate to a region it has no link to", async () => {
    const arn = (await east.client.send(new DescribeSecretCommand({ SecretId: "db/app" }))).ARN!;
    const err = await failure(east.client.send(new DeleteSecretCommand({ SecretId: "db/app" })));
    expect(err.name).toBe("InvalidParameterException");
    expect(err.message).toBe(`You can't delete secret ${arn} that still has replica regions [us-west-2].`);
    const forced = await failure(east.client.send(new DeleteSecretCommand({ SecretId: "db/app", ForceDeleteWithoutRecovery: true })));
    expect(forced.name).toBe("InvalidParameterException");

    const unknown = await failure(
      east.client.send(new CreateSecretCommand({ Name: "nowhere", SecretString: "x", AddReplicaRegions: [{ Region: "ap-south-1" }] })),
    );
    expect(unknown.name).toBe("InvalidParameterException");
    expect(unknown.message).toBe("Invalid replica region.");
    // Nothing was created.
    expect((await failure(east.client.send(new DescribeSecretCommand({ SecretId: "nowhere" })))).name).toBe("ResourceNotFoundException");
    const self = await failure(east.client.send(new ReplicateSecretToRegionsCommand({ SecretId: "db/app", AddReplicaRegions: [{ Region: "us-east-1" }] })));
    expect(self.name).toBe("InvalidParameterException");
  });

  it("catches up a replica region that was down: InProgress with the reason meanwhile, then InSync with exactly the primary's versions", async () => {
    await east.client.send(new CreateSecretCommand({ Name: "outage", SecretString: "a", AddReplicaRegions: [{ Region: "us-west-2" }] }));
    await inSync("outage");
    await west.stop();
    for (const v of ["b", "c", "d"]) await east.client.send(new PutSecretValueCommand({ SecretId: "outage", SecretString: v }));
    const waiting = await eventually(async () => (await statusIn(east.client, "outage"))?.find((r) => r.Status === "InProgress"));
    expect(waiting.StatusMessage).toMatch(/us-west-2/);
    await west.start();
    await inSync("outage");
    expect(await versionsIn(west.client, "outage")).toEqual(await versionsIn(east.client, "outage"));
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "outage" }))).SecretString).toBe("d");
  }, 60_000);

  it("RemoveRegionsFromReplication deletes the replica; the primary may then be deleted", async () => {
    await east.client.send(new CreateSecretCommand({ Name: "removed", SecretString: "r", AddReplicaRegions: [{ Region: "us-west-2" }] }));
    await inSync("removed");
    const out = await east.client.send(new RemoveRegionsFromReplicationCommand({ SecretId: "removed", RemoveReplicaRegions: ["us-west-2"] }));
    expect(out.ReplicationStatus).toEqual([]);
    await eventually(async () => (await failure(west.client.send(new GetSecretValueCommand({ SecretId: "removed" })))).name === "ResourceNotFoundException");
    await east.client.send(new DeleteSecretCommand({ SecretId: "removed", ForceDeleteWithoutRecovery: true }));
  });

  it("StopReplicationToReplica with the primary region down promotes the replica, which takes writes; the primary drops it when back", async () => {
    await east.client.send(new CreateSecretCommand({ Name: "promoted", SecretString: "p1", AddReplicaRegions: [{ Region: "us-west-2" }] }));
    await inSync("promoted");
    await east.stop();
    const stopped = await west.client.send(new StopReplicationToReplicaCommand({ SecretId: "promoted" }));
    expect(stopped.ARN).toMatch(/:us-west-2:/);
    await west.client.send(new PutSecretValueCommand({ SecretId: "promoted", SecretString: "p2" }));
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "promoted" }))).SecretString).toBe("p2");
    const described = await west.client.send(new DescribeSecretCommand({ SecretId: "promoted" }));
    expect(described.PrimaryRegion).toBe("us-west-2");
    await east.start();
    await eventually(async () => (await statusIn(east.client, "promoted")) === undefined);
    // The primary's later writes no longer reach the promoted secret.
    await east.client.send(new PutSecretValueCommand({ SecretId: "promoted", SecretString: "p3" }));
    await east.client.send(new DeleteSecretCommand({ SecretId: "promoted", ForceDeleteWithoutRecovery: true }));
    await new Promise((r) => setTimeout(r, 500));
    expect((await west.client.send(new GetSecretValueCommand({ SecretId: "promoted" }))).SecretString).toBe("p2");
  }, 60_000);

  it("each region's audit trail records what happened there", async () => {
    const arn = (await east.client.send(new DescribeSecretCommand({ SecretId: "db/app" }))).ARN!;
    expect((await auditedEvents(east, "CreateSecret")).some((e) => e.resources.includes(arn))).toBe(true);
    expect((await auditedEvents(east, "RemoveRegionsFromReplication")).length).toBeGreaterThan(0);
    // The replica region records each change it applied, and its own promotion.
    expect((await auditedEvents(west, "ApplyReplica")).some((e) => e.resources.includes(arn))).toBe(true);
    expect((await auditedEvents(west, "RemoveReplica")).length).toBeGreaterThan(0);
    expect((await auditedEvents(west, "StopReplicationToReplica")).length).toBe(1);
    expect((await auditedEvents(east, "ReplicaPromoted")).length).toBe(1);
    expect(await auditedEvents(west, "CreateSecret")).toEqual([]);
  });
});
