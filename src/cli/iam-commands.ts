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
import { clientTarget, withClientOptions, type ClientFlags } from "./client-options.ts";
import { fields, print, table } from "./output.ts";

/**
 * `coffer user|role|whoami`: the common IAM calls, made over the API with the
 * official SDK like any client. Which server, which credentials, which
 * region: client-options.ts (by default the local server, as its administrator).
 */

const iam = (o: ClientFlags) => new IAMClient(clientTarget(o).config("iam"));

function policyText(arg: string): string {
  return arg.startsWith("@") ? readFileSync(arg.slice(1), "utf8") : arg;
}

export function registerIamCommands(program: Command): void {
  const user = program.command("user").description("IAM users");
  withClientOptions(user.command("create <name>").description("create a user"))
    .option("--path <path>", "IAM path", "/")
    .action(async (name: string, o: ClientFlags & { path: string }) => {
      const { User } = await iam(o).send(new CreateUserCommand({ UserName: name, Path: o.path }));
      print(o.output, User, fields(User, ["UserName", "Arn", "UserId", "CreateDate"]));
    });
  withClientOptions(user.command("list").description("list users")).action(async (o: ClientFlags) => {
    const { Users = [] } = await iam(o).send(new ListUsersCommand({}));
    print(o.output, Users, table(Users, ["UserName", "Arn", "CreateDate"]));
  });
  withClientOptions(user.command("key <name>").description("create an access key for a user (printed once)")).action(
    async (name: string, o: ClientFlags) => {
      const { AccessKey } = await iam(o).send(new CreateAccessKeyCommand({ UserName: name }));
      print(o.output, AccessKey, fields(AccessKey, ["UserName", "AccessKeyId", "SecretAccessKey"]));
    },
  );
  withClientOptions(
    user.command("policy <name> <policy-name> <document>").description("put an inline policy (JSON, or @file)"),
  ).action(async (name: string, policyName: string, document: string, o: ClientFlags) => {
    const out = await iam(o).send(new PutUserPolicyCommand({ UserName: name, PolicyName: policyName, PolicyDocument: policyText(document) }));
    print(o.output, out, `policy ${policyName} put on user ${name}`);
  });

  const role = program.command("role").description("IAM roles");
  withClientOptions(role.command("create <name>").description("create a role"))
    .option("--trust <document>", "trust policy (JSON, or @file)")
    .option("--trust-account <id>", "trust this account's principals (its root) to assume the role")
    .option("--max-session <seconds>", "longest session (3600-43200)")
    .action(async (name: string, o: ClientFlags & { trust?: string; trustAccount?: string; maxSession?: string }) => {
      if (!o.trust === !o.trustAccount) throw new Error("give exactly one of --trust and --trust-account");
      const trust =
        o.trust !== undefined
          ? policyText(o.trust)
          : JSON.stringify({
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Principal: { AWS: rootArn(o.trustAccount!) }, Action: "sts:AssumeRole" }],
            });
      const { Role } = await iam(o).send(
        new CreateRoleCommand({
          RoleName: name,
          AssumeRolePolicyDocument: trust,
          MaxSessionDuration: o.maxSession === undefined ? undefined : Number(o.maxSession),
        }),
      );
      print(o.output, Role, fields(Role, ["RoleName", "Arn", "RoleId", "MaxSessionDuration", "CreateDate"]));
    });
  withClientOptions(role.command("list").description("list roles")).action(async (o: ClientFlags) => {
    const { Roles = [] } = await iam(o).send(new ListRolesCommand({}));
    print(o.output, Roles, table(Roles, ["RoleName", "Arn", "CreateDate"]));
  });
  withClientOptions(
    role.command("policy <name> <policy-name> <document>").description("put an inline policy (JSON, or @file)"),
  ).action(async (name: string, policyName: string, document: string, o: ClientFlags) => {
    const out = await iam(o).send(new PutRolePolicyCommand({ RoleName: name, PolicyName: policyName, PolicyDocument: policyText(document) }));
    print(o.output, out, `policy ${policyName} put on role ${name}`);
  });

  withClientOptions(program.command("whoami").description("who the current credentials are (sts get-caller-identity)")).action(
    async (o: ClientFlags) => {
      const who = await new STSClient(clientTarget(o).config("sts")).send(new GetCallerIdentityCommand({}));
      print(o.output, who, fields(who, ["Arn", "Account", "UserId"]));
    },
  );
}
