import { GetSecretValueCommand, ListSecretVersionIdsCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReplicationPeer } from "../../src/app/replication-peer.ts";
import type { OpenLink, ReplicaSnapshot, SnapshotVersion } from "../../src/services/replication/replication-types.ts";
import { dropRegion, startRegion, type Region } from "./replication-regions.ts";

/**
 * The replica side of replication, driven with snapshots sent straight to its
 * ApplyReplica API (what the primary's delivery sends), so that an order of
 * changes that delivery reaches only by timing is tested every run.
 */
let west: Region;
let link: OpenLink;
const peer = createReplicationPeer();

beforeAll(async () => {
  west = await startRegion("us-west-2");
  link = { name: "us-west-2", endpoint: west.run.url, ...west.credentials };
}, 60_000);
afterAll(async () => {
  await dropRegion(west);
});

const INITIAL = "11111111-1111-4111-8111-111111111111";
const ROTATED = "22222222-2222-4222-8222-222222222222";
const LATER = "33333333-3333-4333-8333-333333333333";

function snapshot(name: string, seq: number, versions: SnapshotVersion[]): ReplicaSnapshot {
  return {
    primaryArn: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`,
    primaryRegion: "us-east-1",
    accountId: "000000000000",
    name,
    seq,
    tags: [],
    createdAt: 1_700_000_000_000,
    lastChangedAt: 1_700_000_000_000 + seq,
    versions,
  };
}
const initial = (stages: string[], value?: string): SnapshotVersion => ({
  versionId: INITIAL,
  createdAt: 1_700_000_000_000,
  stages,
  valueKind: "string",
  ...(value !== undefined ? { value: Buffer.from(value) } : {}),
});
/** The rotation's AWSPENDING placeholder: the version exists in the primary before createSecret gives it a value. */
const placeholder: SnapshotVersion = { versionId: ROTATED, createdAt: 1_700_000_000_100, stages: ["AWSPENDING"], valueKind: "none" };

async function currentIn(name: string) {
  const out = await west.client.send(new GetSecretValueCommand({ SecretId: name }));
  return { versionId: out.VersionId, value: out.SecretString };
}

describe("a replica applying a rotation's snapshots", () => {
  it("takes the value of a version it first received as the rotation's placeholder (no value)", async () => {
    expect(await peer.apply(link, snapshot("placeholder-then-value", 1, [initial(["AWSCURRENT"], "initial")]))).toMatchObject({ outcome: "Applied" });
    expect(await peer.apply(link, snapshot("placeholder-then-value", 2, [placeholder, initial(["AWSCURRENT"])]))).toMatchObject({ outcome: "Applied" });
    expect(await currentIn("placeholder-then-value")).toEqual({ versionId: INITIAL, value: "initial" });

    // createSecret, then finishSecret: the rotated version has its value and AWSCURRENT (sent with it, the newest).
    const rotated: SnapshotVersion = { ...placeholder, stages: ["AWSCURRENT"], valueKind: "string", value: Buffer.from("rotated") };
    expect(await peer.apply(link, snapshot("placeholder-then-value", 3, [rotated, initial(["AWSPREVIOUS"])]))).toMatchObject({ outcome: "Applied" });
    expect(await currentIn("placeholder-then-value")).toEqual({ versionId: ROTATED, value: "rotated" });
    const listed = await west.client.send(new ListSecretVersionIdsCommand({ SecretId: "placeholder-then-value" }));
    expect(Object.fromEntries(listed.Versions!.map((v) => [v.VersionId, v.VersionStages]))).toEqual({ [ROTATED]: ["AWSCURRENT"], [INITIAL]: ["AWSPREVIOUS"] });
  });

  it("asks for the value of a placeholder it holds when the snapshot leaves it out (a newer version came first)", async () => {
    await peer.apply(link, snapshot("placeholder-value-later", 1, [initial(["AWSCURRENT"], "initial")]));
    await peer.apply(link, snapshot("placeholder-value-later", 2, [placeholder, initial(["AWSCURRENT"])]));
    // The placeholder got its value, then another version was added: only the newest travels with its value.
    const rotated: SnapshotVersion = { ...placeholder, stages: ["AWSPREVIOUS"], valueKind: "string" };
    const later: SnapshotVersion = { versionId: LATER, createdAt: 1_700_000_000_200, stages: ["AWSCURRENT"], valueKind: "string", value: Buffer.from("later") };
    const first = snapshot("placeholder-value-later", 3, [later, rotated, initial([])]);
    expect(await peer.apply(link, first)).toEqual({ outcome: "NeedValues", missing: [ROTATED] });
    const withValue = snapshot("placeholder-value-later", 3, [later, { ...rotated, value: Buffer.from("rotated") }, initial([])]);
    expect(await peer.apply(link, withValue)).toMatchObject({ outcome: "Applied" });
    expect(await currentIn("placeholder-value-later")).toEqual({ versionId: LATER, value: "later" });
    const previous = await west.client.send(new GetSecretValueCommand({ SecretId: "placeholder-value-later", VersionStage: "AWSPREVIOUS" }));
    expect(previous.SecretString).toBe("rotated");
  });
});
