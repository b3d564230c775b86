import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  HierarchyLevelLimitExceededException,
  IncompatiblePolicyException,
  InvalidAllowedPatternException,
  InvalidFilterKey,
  InvalidFilterOption,
  InvalidFilterValue,
  InvalidKeyId,
  InvalidNextToken,
  InvalidPolicyAttributeException,
  InvalidPolicyTypeException,
  InvalidResourceId,
  InvalidResourceType,
  LabelParameterVersionCommand,
  ListTagsForResourceCommand,
  ParameterAlreadyExists,
  ParameterMaxVersionLimitExceeded,
  ParameterNotFound,
  ParameterPatternMismatchException,
  ParameterVersionLabelLimitExceeded,
  ParameterVersionNotFound,
  PoliciesLimitExceededException,
  PutParameterCommand,
  RemoveTagsFromResourceCommand,
  SSMClient,
  TooManyTagsError,
  UnlabelParameterVersionCommand,
  paginateGetParametersByPath,
  type DescribeParametersCommandInput,
  type Parameter,
} from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "./harness.ts";
import { seedParameterTree } from "./ssm-tree.ts";

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

const ACCOUNT = "000000000000";
const REGION = "us-east-1";
const arnOf = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name.startsWith("/") ? name : `/${name}`}`;

let run: Running;
let ssm: SSMClient;

beforeAll(async () => {
  // A short poll so parameter policies act within the test.
  run = await startCoffer({ env: { COFFER_PARAMETER_POLICY_POLL_SECONDS: "0.2" } });
  ssm = ssmFor(run.credentials);
});
afterAll(() => run.stop());

const opts = (credentials: Creds) => ({ endpoint: run.url, region: REGION, credentials, maxAttempts: 1 });
const ssmFor = (c: Creds) => new SSMClient(opts(c));


const put = (Name: string, Value: string, extra: Partial<ConstructorParameters<typeof PutParameterCommand>[0]> = {}) =>
  ssm.send(new PutParameterCommand({ Name, Value, Type: "String", ...extra }));
const get = (Name: string, WithDecryption = false) => ssm.send(new GetParameterCommand({ Name, WithDecryption }));
const names = (ps: Parameter[] | undefined) => (ps ?? []).map((p) => p.Name);

/** A user with one inline policy, and its access key. */
async function userWith(name: string, statements: object[]): Promise<Creds> {
  const iam = new IAMClient(opts(run.credentials));
  await iam.send(new CreateUserCommand({ UserName: name }));
  await iam.send(
    new PutUserPolicyCommand({ UserName: name, PolicyName: "p", PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: statements }) }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

describe("PutParameter and GetParameter", () => {
  it("stores the three types, versions on overwrite, and answers as AWS does", async () => {
    expect(await put("/app/web/host", "web.internal", { Description: "where the web tier lives" })).toMatchObject({ Version: 1, Tier: "Standard" });
    const got = (await get("/app/web/host")).Parameter!;
    expect(got).toMatchObject({ Name: "/app/web/host", Type: "String", Value: "web.internal", Version: 1, ARN: arnOf("/app/web/host"), DataType: "text" });
    expect(got.LastModifiedDate).toBeInstanceOf(Date);

    expect(await failure(put("/app/web/host", "other"))).toBeInstanceOf(ParameterAlreadyExists);
    expect(await put("/app/web/host", "web2.internal", { Overwrite: true })).toMatchObject({ Version: 2 });
    // Type may be left out when overwriting: the parameter keeps its own.
    expect(await ssm.send(new PutParameterCommand({ Name: "/app/web/host", Value: "web3.internal", Overwrite: true }))).toMatchObject({ Version: 3 });
    expect((await get("/app/web/host")).Parameter).toMatchObject({ Value: "web3.internal", Version: 3, Type: "String" });
    // A type never changes: a String cannot become a SecureString by overwriting it.
    const mismatch = await failure(put("/app/web/host", "secret-now", { Type: "SecureString", Overwrite: true }));
    expect(mismatch.name).toBe("HierarchyTypeMismatchException");
    expect(mismatch.message).not.toContain("secret-now");
    expect((await get("/app/web/host")).Parameter).toMatchObject({ Version: 3, Type: "String" });
    // A name without a hierarchy, and the ARN as the name.
    await put("flat", "a,b,c", { Type: "StringList" });
    expect((await get(arnOf("flat"))).Parameter).toMatchObject({ Name: "flat", Type: "StringList", Value: "a,b,c" });
    // Creating needs a type.
    expect((await failure(ssm.send(new PutParameterCommand({ Name: "/app/untyped", Value: "x" })))).name).toBe("ValidationException");
  });

  it("encrypts SecureString with alias/aws/ssm by default, or the key named, and decrypts only when asked", async () => {
    await put("/app/db/password", "pa55word", { Type: "SecureString" });
    const opaque = (await get("/app/db/password")).Parameter!;
    expect(opaque.Type).toBe("SecureString");
    expect(opaque.Value).not.toContain("pa55word");
    expect((await get("/app/db/password", true)).Parameter!.Value).toBe("pa55word");
    const described = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Name", Values: ["/app/db/password"] }] }));
    expect(described.Parameters![0]).toMatchObject({ Name: "/app/db/password", Type: "SecureString", KeyId: "alias/aws/ssm", Version: 1 });

    const kms = new KMSClient(opts(run.credentials));
    const key = (await kms.send(new CreateKeyCommand({ Description: "app parameters" }))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: "alias/app", TargetKeyId: key.KeyId! }));
    await put("/app/db/token", "t0ken", { Type: "SecureString", KeyId: "alias/app" });
    expect((await get("/app/db/token", true)).Parameter!.Value).toBe("t0ken");
    expect(await failure(put("/app/db/other", "x", { Type: "SecureString", KeyId: "alias/none" }))).toBeInstanceOf(InvalidKeyId);
    expect((await failure(put("/app/db/plain", "x", { Type: "String", KeyId: "alias/app" }))).name).toBe("ValidationException");
    // A disabled key cannot be used, for reading or writing.
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId! }));
    expect(await failure(get("/app/db/token", true))).toBeInstanceOf(InvalidKeyId);
    expect(await failure(put("/app/db/token", "t1", { Type: "SecureString", Overwrite: true }))).toBeInstanceOf(InvalidKeyId);
  });

  it("enforces names, hierarchy depth, sizes, tiers and the allowed pattern", async () => {
    const deep = "/l".repeat(16);
    expect(await failure(put(deep, "x"))).toBeInstanceOf(HierarchyLevelLimitExceededException);
    expect(await put("/l".repeat(15), "x")).toMatchObject({ Version: 1 });
    for (const bad of ["awsTest", "/ssm/x", "no/leading/slash", "/has space", "/a//b"]) {
      expect((await failure(put(bad, "x"))).name, bad).toBe("ValidationException");
    }
    expect((await failure(put("/aws/reference/secretsmanager/x", "x"))).name).toBe("AccessDeniedException");

    expect((await failure(put("/app/big", "x".repeat(4097))))).toMatchObject({ name: "ValidationException" });
    expect(await put("/app/big", "x".repeat(4097), { Tier: "Advanced" })).toMatchObject({ Tier: "Advanced" });
    expect(await put("/app/auto", "x".repeat(5000), { Tier: "Intelligent-Tiering" })).toMatchObject({ Tier: "Advanced" });
    expect(await put("/app/auto-small", "x", { Tier: "Intelligent-Tiering" })).toMatchObject({ Tier: "Standard" });
    expect((await failure(put("/app/big", "x", { Tier: "Standard", Overwrite: true }))).name).toBe("ValidationException");
    expect((await failure(put("/app/huge", "x".repeat(8193), { Tier: "Advanced" }))).name).toBe("ValidationException");

    await put("/app/port", "8080", { AllowedPattern: "^\\d+$" });
    const mismatch = await failure(put("/app/port", "eighty", { Overwrite: true }));
    expect(mismatch).toBeInstanceOf(ParameterPatternMismatchException);
    expect(mismatch.message).not.toContain("eighty");
    expect(await put("/app/port", "8081", { Overwrite: true })).toMatchObject({ Version: 2 });
    expect(await failure(put("/app/pattern", "x", { AllowedPattern: "(" }))).toBeInstanceOf(InvalidAllowedPatternException);
    expect((await failure(put("/app/dt", "x", { DataType: "aws:ec2:image" }))).name).toBe("ValidationException");
    expect(await put("/app/dt", "x", { DataType: "text" })).toMatchObject({ Version: 1 });
  });

  it("keeps 100 versions, and refuses to push out a labelled oldest one", async () => {
    await put("/app/many", "v1");
    await ssm.send(new LabelParameterVersionCommand({ Name: "/app/many", ParameterVersion: 1, Labels: ["first"] }));
    for (let v = 2; v <= 100; v++) await put("/app/many", `v${v}`, { Overwrite: true });
    expect(await failure(put("/app/many", "v101", { Overwrite: true }))).toBeInstanceOf(ParameterMaxVersionLimitExceeded);
    await ssm.send(new UnlabelParameterVersionCommand({ Name: "/app/many", ParameterVersion: 1, Labels: ["first"] }));
    expect(await put("/app/many", "v101", { Overwrite: true })).toMatchObject({ Version: 101 });
    expect(await failure(get("/app/many:1"))).toBeInstanceOf(ParameterVersionNotFound);
    expect((await get("/app/many:2")).Parameter!.Value).toBe("v2");
    const history = await ssm.send(new GetParameterHistoryCommand({ Name: "/app/many", MaxResults: 50 }));
    expect(history.Parameters!.map((h) => h.Version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    const rest = await ssm.send(new GetParameterHistoryCommand({ Name: "/app/many", MaxResults: 50, NextToken: history.NextToken }));
    expect(rest.Parameters!.map((h) => h.Version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 52));
    expect(rest.NextToken).toBeUndefined();
  });
});

describe("selectors, labels and history", () => {
  it("reads versions and labels, moves labels, and reports what it could not do", async () => {
    await put("/sel/conf", "one");
    await put("/sel/conf", "two", { Overwrite: true });
    await put("/sel/conf", "three", { Overwrite: true, Description: "third" });
    expect((await get("/sel/conf:1")).Parameter).toMatchObject({ Value: "one", Version: 1, Selector: ":1" });
    expect(await failure(get("/sel/conf:9"))).toBeInstanceOf(ParameterVersionNotFound);
    expect(await failure(get("/sel/none"))).toBeInstanceOf(ParameterNotFound);

    const labelled = await ssm.send(new LabelParameterVersionCommand({ Name: "/sel/conf", ParameterVersion: 1, Labels: ["live", "1bad", "awsNo"] }));
    expect(labelled).toMatchObject({ ParameterVersion: 1, InvalidLabels: ["1bad", "awsNo"] });
    expect((await get("/sel/conf:live")).Parameter).toMatchObject({ Value: "one", Selector: ":live" });
    // Without a version the latest gets the label, which moves off version 1.
    expect(await ssm.send(new LabelParameterVersionCommand({ Name: "/sel/conf", Labels: ["live"] }))).toMatchObject({ ParameterVersion: 3 });
    expect((await get("/sel/conf:live")).Parameter).toMatchObject({ Value: "three", Version: 3 });
    expect(await failure(get("/sel/conf:gone"))).toBeInstanceOf(ParameterVersionNotFound);
    expect(await failure(ssm.send(new LabelParameterVersionCommand({ Name: "/sel/conf", ParameterVersion: 7, Labels: ["x"] })))).toBeInstanceOf(
      ParameterVersionNotFound,
    );
    expect(await failure(ssm.send(new LabelParameterVersionCommand({ Name: "/sel/none", Labels: ["x"] })))).toBeInstanceOf(ParameterNotFound);
    const ten = Array.from({ length: 10 }, (_, i) => `l${i}`);
    await ssm.send(new LabelParameterVersionCommand({ Name: "/sel/conf", ParameterVersion: 2, Labels: ten }));
    expect(await failure(ssm.send(new LabelParameterVersionCommand({ Name: "/sel/conf", ParameterVersion: 2, Labels: ["eleventh"] })))).toBeInstanceOf(
      ParameterVersionLabelLimitExceeded,
    );

    const unlabelled = await ssm.send(new UnlabelParameterVersionCommand({ Name: "/sel/conf", ParameterVersion: 2, Labels: ["l0", "live"] }));
    expect(unlabelled).toEqual(expect.objectContaining({ RemovedLabels: ["l0"], InvalidLabels: ["live"] }));

    const history = (await ssm.send(new GetParameterHistoryCommand({ Name: "/sel/conf" }))).Parameters!;
    expect(history.map((h) => [h.Version, h.Value, h.Labels])).toEqual([
      [1, "one", []],
      [2, "two", ten.slice(1)],
      [3, "three", ["live"]],
    ]);
    expect(history[2]).toMatchObject({ Description: "third", Type: "String", Tier: "Standard", LastModifiedUser: `arn:aws:iam::${ACCOUNT}:root` });
    expect(await failure(ssm.send(new GetParameterHistoryCommand({ Name: "/sel/conf", NextToken: "bogus" })))).toBeInstanceOf(InvalidNextToken);
  });

  it("GetParameters returns what exists and lists the rest as invalid", async () => {
    await put("/multi/a", "A");
    await put("/multi/b", "B", { Type: "SecureString" });
    const r = await ssm.send(new GetParametersCommand({ Names: ["/multi/a", "/multi/b", "/multi/missing", "/multi/a:5", "bad name"], WithDecryption: true }));
    expect(r.Parameters!.map((p) => [p.Name, p.Value])).toEqual([
      ["/multi/a", "A"],
      ["/multi/b", "B"],
    ]);
    expect(r.InvalidParameters).toEqual(["/multi/missing", "/multi/a:5", "bad name"]);
  });
});

describe("GetParametersByPath and DescribeParameters", () => {
  beforeAll(async () => {
    await put("/svc/api/url", "https://api");
    await put("/svc/api/key", "k3y", { Type: "SecureString" });
    await put("/svc/api/limits/rps", "100");
    await put("/svc/api/limits/burst", "200", { Tags: [{ Key: "team", Value: "edge" }] });
    await put("/svc/apiary/x", "not under /svc/api");
    await put("/svc/worker/threads", "4", { Type: "StringList" });
  });

  it("lists one level or the whole branch, decrypting on request", async () => {
    const one = await ssm.send(new GetParametersByPathCommand({ Path: "/svc/api" }));
    expect(names(one.Parameters)).toEqual(["/svc/api/key", "/svc/api/url"]);
    expect(one.Parameters![0].Value).not.toBe("k3y");
    const all = await ssm.send(new GetParametersByPathCommand({ Path: "/svc/api/", Recursive: true, WithDecryption: true }));
    expect(names(all.Parameters)).toEqual(["/svc/api/key", "/svc/api/limits/burst", "/svc/api/limits/rps", "/svc/api/url"]);
    expect(all.Parameters![0].Value).toBe("k3y");
    expect(names((await ssm.send(new GetParametersByPathCommand({ Path: "/nothing/here" }))).Parameters)).toEqual([]);
  });

  it("pages with MaxResults and NextToken, and the SDK paginator walks every page", async () => {
    const first = await ssm.send(new GetParametersByPathCommand({ Path: "/svc", Recursive: true, MaxResults: 2 }));
    expect(first.Parameters).toHaveLength(2);
    expect(first.NextToken).toBeDefined();
    const seen: string[] = [];
    for await (const page of paginateGetParametersByPath({ client: ssm, pageSize: 2 }, { Path: "/svc", Recursive: true })) {
      seen.push(...(names(page.Parameters) as string[]));
    }
    expect(seen).toEqual(["/svc/api/key", "/svc/api/limits/burst", "/svc/api/limits/rps", "/svc/api/url", "/svc/apiary/x", "/svc/worker/threads"]);
    expect(await failure(ssm.send(new GetParametersByPathCommand({ Path: "/svc", NextToken: "nope" })))).toBeInstanceOf(InvalidNextToken);
  });

  it("filters by Type, KeyId and Label, and refuses filters it does not take", async () => {
    const secure = await ssm.send(
      new GetParametersByPathCommand({ Path: "/svc", Recursive: true, ParameterFilters: [{ Key: "Type", Option: "Equals", Values: ["SecureString"] }] }),
    );
    expect(names(secure.Parameters)).toEqual(["/svc/api/key"]);
    const byKey = await ssm.send(
      new GetParametersByPathCommand({ Path: "/svc", Recursive: true, ParameterFilters: [{ Key: "KeyId", Values: ["alias/aws/ssm"] }] }),
    );
    expect(names(byKey.Parameters)).toEqual(["/svc/api/key"]);
    await put("/svc/api/url", "https://api/v2", { Overwrite: true });
    await ssm.send(new LabelParameterVersionCommand({ Name: "/svc/api/url", ParameterVersion: 1, Labels: ["stable"] }));
    const stable = await ssm.send(
      new GetParametersByPathCommand({ Path: "/svc", Recursive: true, ParameterFilters: [{ Key: "Label", Option: "Equals", Values: ["stable"] }] }),
    );
    expect(stable.Parameters!.map((p) => [p.Name, p.Value, p.Version])).toEqual([["/svc/api/url", "https://api", 1]]);

    const byPath = (ParameterFilters: { Key: string; Option?: string; Values?: string[] }[]) =>
      ssm.send(new GetParametersByPathCommand({ Path: "/svc", ParameterFilters }));
    expect(await failure(byPath([{ Key: "Name", Values: ["x"] }]))).toBeInstanceOf(InvalidFilterKey);
    expect(await failure(byPath([{ Key: "Label", Option: "BeginsWith", Values: ["x"] }]))).toBeInstanceOf(InvalidFilterOption);
    expect(await failure(byPath([{ Key: "Type", Values: ["Number"] }]))).toBeInstanceOf(InvalidFilterValue);
  });

  it("describes parameters with ParameterFilters, the older Filters, and paging, never with a value", async () => {
    const describe = async (input: DescribeParametersCommandInput) =>
      (await ssm.send(new DescribeParametersCommand(input))).Parameters!.map((p) => p.Name);
    expect(await describe({ ParameterFilters: [{ Key: "Path", Option: "Recursive", Values: ["/svc/api"] }] })).toEqual([
      "/svc/api/key",
      "/svc/api/limits/burst",
      "/svc/api/limits/rps",
      "/svc/api/url",
    ]);
    expect(await describe({ ParameterFilters: [{ Key: "Path", Values: ["/svc/api/limits"] }] })).toEqual(["/svc/api/limits/burst", "/svc/api/limits/rps"]);
    expect(await describe({ ParameterFilters: [{ Key: "Name", Option: "BeginsWith", Values: ["/svc/api"] }] })).toHaveLength(5);
    expect(await describe({ ParameterFilters: [{ Key: "Name", Option: "Contains", Values: ["limits"] }] })).toHaveLength(2);
    expect(await describe({ ParameterFilters: [{ Key: "tag:team", Values: ["edge"] }] })).toEqual(["/svc/api/limits/burst"]);
    expect(
      await describe({ ParameterFilters: [{ Key: "Type", Values: ["StringList"] }, { Key: "Path", Option: "Recursive", Values: ["/svc"] }] }),
    ).toEqual(["/svc/worker/threads"]);
    expect(await describe({ Filters: [{ Key: "Name", Values: ["/svc/api/url"] }] })).toEqual(["/svc/api/url"]);

    const page = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Path", Option: "Recursive", Values: ["/svc"] }], MaxResults: 4 }));
    expect(page.Parameters).toHaveLength(4);
    const next = await ssm.send(
      new DescribeParametersCommand({ ParameterFilters: [{ Key: "Path", Option: "Recursive", Values: ["/svc"] }], MaxResults: 4, NextToken: page.NextToken }),
    );
    expect(names(next.Parameters as Parameter[])).toEqual(["/svc/apiary/x", "/svc/worker/threads"]);
    expect(JSON.stringify(page)).not.toContain("k3y");

    const dup = [{ Key: "Type", Values: ["String"] }, { Key: "Type", Values: ["SecureString"] }];
    expect(await failure(ssm.send(new DescribeParametersCommand({ ParameterFilters: dup })))).toBeInstanceOf(InvalidFilterKey);
    expect(await failure(ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Label", Values: ["x"] }] })))).toBeInstanceOf(InvalidFilterKey);
    expect(await failure(ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Tier", Option: "Contains", Values: ["Standard"] }] })))).toBeInstanceOf(
      InvalidFilterOption,
    );
  });
});

describe("delete and tags", () => {
  it("deletes one or many, reporting names that were not parameters", async () => {
    await put("/del/a", "1");
    await put("/del/b", "2");
    await put("/del/c", "3");
    await ssm.send(new DeleteParameterCommand({ Name: "/del/a" }));
    expect(await failure(get("/del/a"))).toBeInstanceOf(ParameterNotFound);
    expect(await failure(ssm.send(new DeleteParameterCommand({ Name: "/del/a" })))).toBeInstanceOf(ParameterNotFound);
    const r = await ssm.send(new DeleteParametersCommand({ Names: ["/del/b", "/del/c", "/del/a", "/del/zz"] }));
    expect(r).toMatchObject({ DeletedParameters: ["/del/b", "/del/c"], InvalidParameters: ["/del/a", "/del/zz"] });
    expect(names((await ssm.send(new GetParametersByPathCommand({ Path: "/del" }))).Parameters)).toEqual([]);
    // The name is free again, with a fresh history.
    expect(await put("/del/a", "again")).toMatchObject({ Version: 1 });
  });

  it("adds, lists and removes tags", async () => {
    await put("/tags/p", "v", { Tags: [{ Key: "env", Value: "dev" }] });
    const target = { ResourceType: "Parameter" as const, ResourceId: "/tags/p" };
    await ssm.send(new AddTagsToResourceCommand({ ...target, Tags: [{ Key: "env", Value: "prod" }, { Key: "team", Value: "core" }] }));
    expect((await ssm.send(new ListTagsForResourceCommand(target))).TagList).toEqual([
      { Key: "env", Value: "prod" },
      { Key: "team", Value: "core" },
    ]);
    await ssm.send(new RemoveTagsFromResourceCommand({ ...target, TagKeys: ["env"] }));
    expect((await ssm.send(new ListTagsForResourceCommand(target))).TagList).toEqual([{ Key: "team", Value: "core" }]);

    expect(await failure(ssm.send(new ListTagsForResourceCommand({ ResourceType: "Document", ResourceId: "/tags/p" })))).toBeInstanceOf(InvalidResourceType);
    expect(await failure(ssm.send(new ListTagsForResourceCommand({ ResourceType: "Parameter", ResourceId: "/tags/none" })))).toBeInstanceOf(InvalidResourceId);
    const many = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: "v" }));
    expect(await failure(ssm.send(new AddTagsToResourceCommand({ ...target, Tags: many })))).toBeInstanceOf(TooManyTagsError);
    // Tags and Overwrite do not mix (AWS: tags of an existing parameter change through the tagging calls).
    expect((await failure(put("/tags/p", "w", { Overwrite: true, Tags: [{ Key: "a", Value: "b" }] }))).name).toBe("ValidationException");
  });
});

describe("authorisation", () => {
  it("applies identity policies with path wildcards to each operation, and kms:Decrypt to SecureString", async () => {
    await put("/team/app/url", "https://app");
    await put("/team/app/db/password", "hunter2", { Type: "SecureString" });
    await put("/team/app/admin/token", "root-only");
    await put("/team/other/url", "https://other");
    const user = ssmFor(
      await userWith("app-reader", [
        { Effect: "Allow", Action: ["ssm:GetParameter", "ssm:GetParameters"], Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/team/app/*" },
        { Effect: "Allow", Action: "ssm:GetParametersByPath", Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/team/app*" },
        { Effect: "Deny", Action: "ssm:*", Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/team/app/admin/*" },
        { Effect: "Allow", Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/team/app/feature/*" },
      ]),
    );
    expect((await user.send(new GetParameterCommand({ Name: "/team/app/url" }))).Parameter!.Value).toBe("https://app");
    expect((await user.send(new GetParameterCommand({ Name: "/team/app/db/password", WithDecryption: true }))).Parameter!.Value).toBe("hunter2");
    const denied = await failure(user.send(new GetParameterCommand({ Name: "/team/other/url" })));
    expect(denied.name).toBe("AccessDeniedException");
    expect(denied.message).toContain("ssm:GetParameter");
    expect(denied.$metadata?.httpStatusCode).toBe(400);
    expect((await failure(user.send(new GetParameterCommand({ Name: "/team/app/admin/token" })))).name).toBe("AccessDeniedException");
    // A missing parameter outside the grant is denied, not reported missing.
    expect((await failure(user.send(new GetParameterCommand({ Name: "/team/other/none" })))).name).toBe("AccessDeniedException");
    expect(await failure(user.send(new GetParameterCommand({ Name: "/team/app/none" })))).toBeInstanceOf(ParameterNotFound);
    expect((await failure(user.send(new GetParametersCommand({ Names: ["/team/app/url", "/team/other/url"] })))).name).toBe("AccessDeniedException");
    // GetParameters is its own action: ssm:GetParameter alone does not grant it.
    const getOnly = ssmFor(
      await userWith("get-only", [{ Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/team/app/*" }]),
    );
    expect((await getOnly.send(new GetParameterCommand({ Name: "/team/app/url" }))).Parameter!.Value).toBe("https://app");
    const batch = await failure(getOnly.send(new GetParametersCommand({ Names: ["/team/app/url"] })));
    expect(batch.name).toBe("AccessDeniedException");
    expect(batch.message).toContain("ssm:GetParameters");
    expect((await user.send(new GetParametersCommand({ Names: ["/team/app/url"] }))).Parameters!.map((p) => p.Value)).toEqual(["https://app"]);

    const branch = await user.send(new GetParametersByPathCommand({ Path: "/team/app", Recursive: true }));
    expect(names(branch.Parameters)).toContain("/team/app/url");
    expect((await failure(user.send(new GetParametersByPathCommand({ Path: "/team/other" })))).name).toBe("AccessDeniedException");

    expect(await user.send(new PutParameterCommand({ Name: "/team/app/feature/beta", Value: "on", Type: "String" }))).toMatchObject({ Version: 1 });
    expect((await failure(user.send(new PutParameterCommand({ Name: "/team/app/url", Value: "x", Type: "String", Overwrite: true })))).name).toBe(
      "AccessDeniedException",
    );
    expect((await failure(user.send(new DeleteParameterCommand({ Name: "/team/app/url" })))).name).toBe("AccessDeniedException");
    expect((await failure(user.send(new DescribeParametersCommand({})))).name).toBe("AccessDeniedException");
    expect((await get("/team/app/url")).Parameter!.Value).toBe("https://app");
  });
});

describe("SecureString under a customer key", () => {
  it("checks kms:Decrypt with Parameter Store's kms:ViaService and PARAMETER_ARN encryption context", async () => {
    const { KeyMetadata } = await new KMSClient(opts(run.credentials)).send(new CreateKeyCommand({ Description: "app parameters" }));
    const arn = "arn:aws:ssm:us-east-1:000000000000:parameter/kms/app/token";
    await put("/kms/app/token", "kms-guarded", { Type: "SecureString", KeyId: KeyMetadata!.KeyId });
    await put("/kms/app/other", "kms-guarded-2", { Type: "SecureString", KeyId: KeyMetadata!.KeyId });
    const read = (conditions: object) =>
      userWith(`kms-reader-${randomUUID().slice(0, 8)}`, [
        { Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/kms/*" },
        { Effect: "Allow", Action: "kms:Decrypt", Resource: KeyMetadata!.Arn, Condition: conditions },
      ]);
    const viaSsm = ssmFor(await read({ StringEquals: { "kms:ViaService": "ssm.us-east-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": arn } }));
    expect((await viaSsm.send(new GetParameterCommand({ Name: "/kms/app/token", WithDecryption: true }))).Parameter!.Value).toBe("kms-guarded");
    // The encryption context names the parameter: the grant does not reach its neighbour.
    expect((await failure(viaSsm.send(new GetParameterCommand({ Name: "/kms/app/other", WithDecryption: true })))).name).toBe("AccessDeniedException");
    const viaSecretsManager = ssmFor(await read({ StringEquals: { "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com" } }));
    expect((await failure(viaSecretsManager.send(new GetParameterCommand({ Name: "/kms/app/token", WithDecryption: true })))).name).toBe(
      "AccessDeniedException",
    );
    // Without decryption the key is not used, so no KMS permission is needed.
    expect((await viaSecretsManager.send(new GetParameterCommand({ Name: "/kms/app/token" }))).Parameter!.Value).not.toBe("kms-guarded");
  });
});

describe("/aws/reference/secretsmanager", () => {
  it("returns the secret's value through both services' permissions", async () => {
    const sm = new SecretsManagerClient(opts(run.credentials));
    const created = await sm.send(new CreateSecretCommand({ Name: "ref/db", SecretString: '{"password":"one"}' }));
    await sm.send(new PutSecretValueCommand({ SecretId: "ref/db", SecretString: '{"password":"two"}' }));

    const got = (await get("/aws/reference/secretsmanager/ref/db", true)).Parameter!;
    expect(got).toMatchObject({ Name: "/aws/reference/secretsmanager/ref/db", Type: "SecureString", Value: '{"password":"two"}', ARN: created.ARN });
    const source = JSON.parse(got.SourceResult!);
    expect(source).toMatchObject({ ARN: created.ARN, Name: "ref/db", SecretString: '{"password":"two"}', VersionStages: ["AWSCURRENT"] });
    const previous = (await get("/aws/reference/secretsmanager/ref/db:AWSPREVIOUS", true)).Parameter!;
    expect(previous).toMatchObject({ Value: '{"password":"one"}', Selector: ":AWSPREVIOUS" });
    expect((await get(`/aws/reference/secretsmanager/ref/db:${created.VersionId}`, true)).Parameter!.Value).toBe('{"password":"one"}');
    expect((await failure(get("/aws/reference/secretsmanager/ref/db"))).message).toContain("WithDecryption flag must be True");
    expect(await failure(get("/aws/reference/secretsmanager/ref/none", true))).toBeInstanceOf(ParameterNotFound);
    const many = await ssm.send(new GetParametersCommand({ Names: ["/aws/reference/secretsmanager/ref/db", "/aws/reference/secretsmanager/ref/none"], WithDecryption: true }));
    expect(many.Parameters!.map((p) => p.Value)).toEqual(['{"password":"two"}']);
    expect(many.InvalidParameters).toEqual(["/aws/reference/secretsmanager/ref/none"]);

    const ssmOnly = ssmFor(await userWith("ssm-only", [{ Effect: "Allow", Action: "ssm:GetParameter", Resource: "*" }]));
    const smOnly = ssmFor(await userWith("sm-only", [{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }]));
    const both = ssmFor(
      await userWith("both", [
        { Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:000000000000:parameter/aws/reference/secretsmanager/ref/*" },
        { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "arn:aws:secretsmanager:us-east-1:000000000000:secret:ref/*" },
      ]),
    );
    const ref = new GetParameterCommand({ Name: "/aws/reference/secretsmanager/ref/db", WithDecryption: true });
    expect((await failure(ssmOnly.send(ref))).message).toContain("secretsmanager:GetSecretValue");
    expect((await failure(smOnly.send(ref))).message).toContain("ssm:GetParameter");
    expect((await both.send(ref)).Parameter!.Value).toBe('{"password":"two"}');
  });
});

describe("parameter policies", () => {
  it("validates policies with AWS's errors", async () => {
    const policy = (p: object[]) => put("/pol/bad", "x", { Tier: "Advanced", Policies: JSON.stringify(p) });
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expect(await failure(policy([{ Type: "Rotate", Version: "1.0", Attributes: {} }]))).toBeInstanceOf(InvalidPolicyTypeException);
    expect(await failure(policy([{ Type: "Expiration", Version: "1.0", Attributes: { Timestamp: "soon" } }]))).toBeInstanceOf(InvalidPolicyAttributeException);
    expect(await failure(policy([{ Type: "ExpirationNotification", Version: "1.0", Attributes: { Before: "1", Unit: "Days" } }]))).toBeInstanceOf(
      IncompatiblePolicyException,
    );
    expect(await failure(policy(Array.from({ length: 11 }, () => ({ Type: "NoChangeNotification", Version: "1.0", Attributes: { After: "1", Unit: "Days" } }))))).toBeInstanceOf(
      PoliciesLimitExceededException,
    );
    // Policies need the advanced tier.
    const standard = await failure(put("/pol/std", "x", { Policies: JSON.stringify([{ Type: "Expiration", Version: "1.0", Attributes: { Timestamp: future } }]) }));
    expect(standard.name).toBe("ValidationException");
  });

  it("the scheduler deletes an expired parameter and records the notifications and the deletion as service events", async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const policies = JSON.stringify([
      { Type: "Expiration", Version: "1.0", Attributes: { Timestamp: expiresAt } },
      { Type: "ExpirationNotification", Version: "1.0", Attributes: { Before: "1", Unit: "Hours" } },
    ]);
    expect(await put("/pol/temp", "short-lived", { Tier: "Intelligent-Tiering", Policies: policies })).toMatchObject({ Tier: "Advanced" });
    const described = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Name", Values: ["/pol/temp"] }] }));
    expect(described.Parameters![0].Policies!.map((p) => p.PolicyType)).toEqual(["Expiration", "ExpirationNotification"]);
    expect(described.Parameters![0].Policies![0].PolicyStatus).toBe("Pending");

    // Wait (bounded) for the scheduler: no timing is asserted, only the outcome.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const gone = await get("/pol/temp").then(() => false, (err: Error) => err instanceof ParameterNotFound);
      if (gone) break;
      if (Date.now() > deadline) throw new Error("the expired parameter was not deleted");
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows = await run.coffer.store.listAuditRows(0, 1_000_000);
    const serviceEvents = rows
      .filter((r) => r.kind === "event")
      .map((r) => JSON.parse(r.record))
      .filter((e) => e.eventType === "AwsServiceEvent" && e.eventSource === "ssm.amazonaws.com");
    expect(serviceEvents.map((e) => e.eventName)).toEqual(["ParameterExpirationNotification", "DeleteParameter"]);
    expect(serviceEvents[1]).toMatchObject({
      resources: [{ ARN: arnOf("/pol/temp"), type: "AWS::SSM::Parameter" }],
      serviceEventDetails: { name: "/pol/temp", policyType: "Expiration" },
    });
    expect(JSON.stringify(serviceEvents)).not.toContain("short-lived");
  });
});

describe("a 10,000-parameter tree", () => {
  it("GetParametersByPath of one branch returns exactly that branch's parameters", async () => {
    await seedParameterTree(run.coffer.store, { accountId: ACCOUNT, region: REGION, root: "/tree", branches: 1000, perBranch: 10 });
    await put("/tree/b12/deeper/x", "nested");
    const branch = await ssm.send(new GetParametersByPathCommand({ Path: "/tree/b12" }));
    // "/tree/b12" must not take in /tree/b120.../tree/b129, and one level leaves out /tree/b12/deeper/x.
    expect(branch.Parameters!.map((p) => [p.Name, p.Value])).toEqual(
      Array.from({ length: 10 }, (_, j) => [`/tree/b12/p${j}`, `value-12-${j}`]),
    );
    expect(branch.NextToken).toBeUndefined();
    const recursive: string[] = [];
    for await (const page of paginateGetParametersByPath({ client: ssm }, { Path: "/tree/b12/", Recursive: true })) {
      recursive.push(...(names(page.Parameters) as string[]));
    }
    expect(recursive).toEqual(["/tree/b12/deeper/x", ...Array.from({ length: 10 }, (_, j) => `/tree/b12/p${j}`)]);
    const described = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Path", Values: ["/tree/b999"] }] }));
    expect(described.Parameters).toHaveLength(10);
  });
});

describe("at rest and in the audit trail", () => {
  it("never writes a SecureString value in plaintext to the data directory, the log, an error or an audit event", async () => {
    const logFile = join(run.dataDir, "..", `coffer-ssm-log-${randomUUID()}.log`);
    const own = await startCoffer({ logFile });
    const client = new SSMClient({ endpoint: own.url, region: REGION, credentials: own.credentials, maxAttempts: 1 });
    const canary = `CANARY-${randomUUID()}`;
    try {
      await client.send(new PutParameterCommand({ Name: "/planted/secret", Value: canary, Type: "SecureString" }));
      await client.send(new PutParameterCommand({ Name: "/planted/secret", Value: `${canary}-2`, Type: "SecureString", Overwrite: true }));
      expect((await client.send(new GetParameterCommand({ Name: "/planted/secret:1", WithDecryption: true }))).Parameter!.Value).toBe(canary);
      await client.send(new GetParameterHistoryCommand({ Name: "/planted/secret", WithDecryption: true }));
      await client.send(new GetParametersByPathCommand({ Path: "/planted", WithDecryption: true }));
      const errors: string[] = [];
      for (const bad of [
        new PutParameterCommand({ Name: "/planted/secret", Value: canary, Type: "SecureString" }), // exists
        new PutParameterCommand({ Name: "/planted/p", Value: canary, Type: "SecureString", AllowedPattern: "^\\d+$" }), // pattern
        new PutParameterCommand({ Name: "/planted/big", Value: canary + "x".repeat(5000), Type: "SecureString" }), // too big for Standard
        new PutParameterCommand({ Name: "bad name", Value: canary, Type: "SecureString" }),
      ]) {
        errors.push(((await failure(client.send(bad))) as Error).message);
      }
      for (const e of errors) expect(e).not.toContain(canary);
      const audit = (await own.coffer.store.listAuditRows(0, 1_000_000)).map((r) => r.record).join("\n");
      expect(audit).toContain("/planted/secret");
      expect(audit).not.toContain(canary);
      const events = (await own.coffer.store.listAuditRows(0, 1_000_000))
        .filter((r) => r.kind === "event")
        .map((r) => JSON.parse(r.record));
      const putEvent = events.find((e) => e.eventName === "PutParameter" && !e.errorCode);
      expect(putEvent).toMatchObject({
        eventSource: "ssm.amazonaws.com",
        requestParameters: { name: "/planted/secret", type: "SecureString" },
        responseElements: { version: 1, tier: "Standard" },
        resources: [{ ARN: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/planted/secret`, type: "AWS::SSM::Parameter" }],
      });
      expect(putEvent.requestParameters).not.toHaveProperty("value");
      const getEvent = events.find((e) => e.eventName === "GetParameter");
      expect(getEvent).toMatchObject({ readOnly: true, responseElements: null, requestParameters: { name: "/planted/secret:1", withDecryption: true } });
    } finally {
      await own.stop().catch(() => undefined);
    }
    // own.stop() removed its data directory; look at a second one kept on disk instead.
    const kept = await startCoffer({ dataDir: join(run.dataDir, "..", `coffer-ssm-kept-${randomUUID()}`) });
    const keptClient = new SSMClient({ endpoint: kept.url, region: REGION, credentials: kept.credentials, maxAttempts: 1 });
    await keptClient.send(new PutParameterCommand({ Name: "/planted/secret", Value: canary, Type: "SecureString" }));
    await keptClient.send(new PutParameterCommand({ Name: "/planted/secret", Value: `${canary}-2`, Type: "SecureString", Overwrite: true }));
    await kept.stop();
    const needles = [canary, Buffer.from(canary).toString("base64")];
    for (const file of filesUnder(kept.dataDir)) {
      const bytes = readFileSync(file);
      for (const n of needles) expect(bytes.includes(Buffer.from(n)), `${n} in ${file}`).toBe(false);
    }
    const log = readFileSync(logFile, "utf8");
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(canary);
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
