import { readFileSync } from "node:fs";
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  ListRolesCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { Command } from "commander";
import { rootArn } from "../shared/arn.ts";

/**
 * `coffer user|role|whoami`: the common IAM calls, made over the API with the
 * official SDK like any client (credentials from the usual AWS chain, e.g.
 * AWS_SHARED_CREDENTIALS_FILE=.coffer/admin-credentials).
 */

interface ClientOptions {
  endpoint: string;
  region: string;
}

const clientConfig = (o: ClientOptions) => ({ endpoint: o.endpoint, region: o.region });
const print = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + "\n");

function policyText(arg: string): string {
  return arg.startsWith("@") ? readFileSync(arg.slice(1), "utf8") : arg;
}

function withClientOptions(cmd: Command): Command {
  return cmd
    .option("--endpoint <url>", "Coffer's URL (COFFER_ENDPOINT)", process.env.COFFER_ENDPOINT ?? "http://127.0.0.1:4599")
    .option("--region <region>", "region (AWS_REGION)", process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1");
}

export function registerIamCommands(program: Command): void {
  const user = program.command("user").description("IAM users");
  withClientOptions(user.command("create <name>").description("create a user"))
    .option("--path <path>", "IAM path", "/")
    .action(async (name: string, o: ClientOptions & { path: string }) => {
      print((await new IAMClient(clientConfig(o)).send(new CreateUserCommand({ UserName: name, Path: o.path }))).User);
    });
  withClientOptions(user.command("list").description("list users")).action(async (o: ClientOptions) => {
    print((await new IAMClient(clientConfig(o)).send(new ListUsersCommand({}))).Users);
  });
  withClientOptions(user.command("key <name>").description("create an access key for a user (printed once)")).action(
    async (name: string, o: ClientOptions) => {
      print((await new IAMClient(clientConfig(o)).send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey);
    },
  );
  withClientOptions(
    user.command("policy <name> <policy-name> <document>").description("put an inline policy (JSON, or @file)"),
  ).action(async (name: string, policyName: string, document: string, o: ClientOptions) => {
    await new IAMClient(clientConfig(o)).send(
      new PutUserPolicyCommand({ UserName: name, PolicyName: policyName, PolicyDocument: policyText(document) }),
    );
  });

  const role = program.command("role").description("IAM roles");
  withClientOptions(role.command("create <name>").description("create a role"))
    .option("--trust <document>", "trust policy (JSON, or @file)")
    .option("--trust-account <id>", "trust this account's principals (its root) to assume the role")
    .option("--max-session <seconds>", "longest session (3600-43200)")
    .action(async (name: string, o: ClientOptions & { trust?: string; trustAccount?: string; maxSession?: string }) => {
      if (!o.trust === !o.trustAccount) throw new Error("give exactly one of --trust and --trust-account");
      const trust =
        o.trust !== undefined
          ? policyText(o.trust)
          : JSON.stringify({
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Principal: { AWS: rootArn(o.trustAccount!) }, Action: "sts:AssumeRole" }],
            });
      const out = await new IAMClient(clientConfig(o)).send(
        new CreateRoleCommand({
          RoleName: name,
          AssumeRolePolicyDocument: trust,
          MaxSessionDuration: o.maxSession === undefined ? undefined : Number(o.maxSession),
        }),
      );
      print(out.Role);
    });
  withClientOptions(role.command("list").description("list roles")).action(async (o: ClientOptions) => {
    print((await new IAMClient(clientConfig(o)).send(new ListRolesCommand({}))).Roles);
  });
  withClientOptions(
    role.command("policy <name> <policy-name> <document>").description("put an inline policy (JSON, or @file)"),
  ).action(async (name: string, policyName: string, document: string, o: ClientOptions) => {
    await new IAMClient(clientConfig(o)).send(
      new PutRolePolicyCommand({ RoleName: name, PolicyName: policyName, PolicyDocument: policyText(document) }),
    );
  });

  withClientOptions(program.command("whoami").description("who the current credentials are (sts get-caller-identity)")).action(
    async (o: ClientOptions) => {
      print(await new STSClient(clientConfig(o)).send(new GetCallerIdentityCommand({})));
    },
  );
}
