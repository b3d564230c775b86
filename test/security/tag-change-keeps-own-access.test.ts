import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";

/**
 * Issue 12, "also correct on the wire": a TagResource/UntagResource that would cost the caller
 * its own permission on the secret (granted through a tag condition) is refused with
 * AccessDenied, as the Secrets Manager API reference documents for both operations. Before, the
 * change was judged on the tags as they were, so a caller could tag itself out (or a secret
 * into another team's reach).
 */

type Creds = { accessKeyId: string; secretAccessKey: string };

let run: Running;
const opts = (credentials: Creds) => ({ endpoint: run.url, region: "us-east-1", credentials, maxAttempts: 1 });
const sm = (c: Creds) => new SecretsManagerClient(opts(c));

beforeAll(async () => {
  run = await startCoffer();
});
afterAll(() => run.stop());

async function user(name: string, condition: object): Promise<Creds> {
  const iam = new IAMClient(opts(run.credentials));
  await iam.send(new CreateUserCommand({ UserName: name }));
  const document = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "secretsmanager:*", Resource: "*", Condition: condition }],
  });
  await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: "p", PolicyDocument: document }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

const tagsOf = async (name: string) => (await sm(run.credentials).send(new DescribeSecretCommand({ SecretId: name }))).Tags;

describe("a tag change that would remove the caller's own access is refused", () => {
  it.each([["secretsmanager:ResourceTag/team"], ["aws:ResourceTag/team"]])("through %s", async (key) => {
    const name = `tagged/${key.split(":")[0]}`;
    await sm(run.credentials).send(new CreateSecretCommand({ Name: name, SecretString: "x", Tags: [{ Key: "team", Value: "blue" }] }));
    const blue = await user(`blue-${key.split(":")[0]}`, { StringEquals: { [key]: "blue" } });
    expect((await sm(blue).send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("x");

    const untag = await failure(sm(blue).send(new UntagResourceCommand({ SecretId: name, TagKeys: ["team"] })));
    expect(untag.name).toBe("AccessDeniedException");
    const retag = await failure(sm(blue).send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: "team", Value: "red" }] })));
    expect(retag.name).toBe("AccessDeniedException");
    expect(await tagsOf(name)).toEqual([{ Key: "team", Value: "blue" }]);

    // Changes that keep the caller's access go through.
    await sm(blue).send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: "owner", Value: "me" }] }));
    await sm(blue).send(new UntagResourceCommand({ SecretId: name, TagKeys: ["owner", "absent"] }));
    expect(await tagsOf(name)).toEqual([{ Key: "team", Value: "blue" }]);
    expect((await sm(blue).send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("x");
  });
});
