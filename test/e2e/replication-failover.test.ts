import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent } from "../../src/agent/agent-server.ts";
import { SecretCache } from "../../src/client/index.ts";
import { failure } from "./harness.ts";
import { dropRegion, eventually, link, startRegion, type Region } from "./replication-regions.ts";

const TOKEN = "failover-ssrf-token-0a7c";
let east: Region;
let west: Region;
let arn: string;

beforeAll(async () => {
  [east, west] = await Promise.all([startRegion("us-east-1"), startRegion("us-west-2")]);
  await link(east, west);
  await link(west, east);
  arn = (await east.client.send(new CreateSecretCommand({ Name: "app/db", SecretString: "pw-1", AddReplicaRegions: [{ Region: "us-west-2" }] }))).ARN!;
  await eventually(async () => (await west.client.send(new GetSecretValueCommand({ SecretId: "app/db" }))).SecretString === "pw-1");
}, 60_000);
afterAll(async () => {
  await Promise.all([east, west].map(dropRegion));
});

const targets = () => [
  { region: "us-east-1", endpoint: `http://127.0.0.1:${east.port}`, clientConfig: { credentials: east.credentials, maxAttempts: 1 } },
  { region: "us-west-2", endpoint: `http://127.0.0.1:${west.port}`, clientConfig: { credentials: west.credentials, maxAttempts: 1 } },
];

describe("clients that fail over to a replica region", () => {
  it("never fail over on an access denial: the first region's answer stands", async () => {
    const iam = new IAMClient({ endpoint: east.run.url, region: "us-east-1", credentials: east.credentials, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: "nobody" }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: "nobody" }))).AccessKey!;
    const [first, second] = targets();
    const cache = new SecretCache({
      regions: [{ ...first, clientConfig: { credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! }, maxAttempts: 1 } }, second],
    });
    const err = await failure(cache.getSecretString("app/db"));
    expect(err.name).toBe("AccessDeniedException");
  });

  it("SecretCache and coffer agent read from the next region when the first is unreachable, by name and by the primary's ARN", async () => {
    const cache = new SecretCache({ regions: targets(), ttlMs: 0 });
    expect(await cache.getSecretString("app/db")).toBe("pw-1");
    const agent = createAgent({
      port: 0,
      token: TOKEN,
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${east.port}`,
      clientConfig: { secretsmanager: { credentials: east.credentials }, ssm: { credentials: east.credentials } },
      failover: [{ region: "us-west-2", endpoint: `http://127.0.0.1:${west.port}`, clientConfig: { credentials: west.credentials } }],
      ttlSeconds: 0,
    });
    const url = await agent.listen();
    const viaAgent = async (id: string) => {
      const res = await fetch(`${url}/secretsmanager/get?secretId=${encodeURIComponent(id)}`, { headers: { "X-Aws-Parameters-Secrets-Token": TOKEN } });
      return { status: res.status, body: (await res.json()) as { SecretString?: string; ARN?: string } };
    };
    try {
      expect((await viaAgent("app/db")).body.SecretString).toBe("pw-1");
      await east.stop();
      expect(await cache.getSecretString("app/db")).toBe("pw-1");
      const byArn = await cache.getSecretValue(arn);
      expect(byArn.ARN).toBe(arn.replace(":us-east-1:", ":us-west-2:"));
      const read = await viaAgent("app/db");
      expect(read.status).toBe(200);
      expect(read.body.SecretString).toBe("pw-1");
      expect(read.body.ARN).toMatch(/:us-west-2:/);
    } finally {
      await agent.close();
      await east.start();
    }
  }, 60_000);
});
