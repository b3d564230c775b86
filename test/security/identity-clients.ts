import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandInput } from "@aws-sdk/client-sts";

/** SDK clients and small IAM fixtures shared by the identity security tests (sts, iam, secrets). */

export type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
export const ACCOUNT = "000000000000";

export const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

export function clients(url: string) {
  const opts = (credentials: Creds) => ({ endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 });
  const sts = (c: Creds) => new STSClient(opts(c));
  return {
    iam: (c: Creds) => new IAMClient(opts(c)),
    sts,
    sm: (c: Creds) => new SecretsManagerClient(opts(c)),
    /** AssumeRole as `who`, with the session name "sess" unless given. */
    assume: (who: Creds, input: Omit<AssumeRoleCommandInput, "RoleSessionName"> & { RoleSessionName?: string }) =>
      sts(who).send(new AssumeRoleCommand({ RoleSessionName: "sess", ...input })),
  };
}

export const policy = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });

/** A trust policy letting this account's principals (with their own permission) do `actions` on the role. */
export const trustAccount = (actions: string[] = ["sts:AssumeRole"], Condition?: object) =>
  policy({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: actions, ...(Condition ? { Condition } : {}) });

export async function userWithKey(iam: IAMClient, name: string, document?: string): Promise<Creds> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  if (document) await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: "p", PolicyDocument: document }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

export const sessionCreds = (c: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string } | undefined): Creds => ({
  accessKeyId: c!.AccessKeyId!,
  secretAccessKey: c!.SecretAccessKey!,
  sessionToken: c!.SessionToken!,
});
