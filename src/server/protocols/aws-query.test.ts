import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import * as iam from "@aws-sdk/client-iam";
import * as sts from "@aws-sdk/client-sts";
import type { OperationSpec, ServiceMetadata, Shapes } from "../../shared/shape-types.ts";
import { shapes as iamShapes } from "../../api/iam/generated/shapes.ts";
import { metadata as iamMetadata, operations as iamOperations } from "../../api/iam/generated/operations.ts";
import { shapes as stsShapes } from "../../api/sts/generated/shapes.ts";
import { metadata as stsMetadata, operations as stsOperations } from "../../api/sts/generated/operations.ts";
import { validateInput } from "../../api/validate.ts";
import { CofferError } from "../../shared/errors.ts";
import {
  QUERY_CONTENT_TYPE,
  decodeQueryInput,
  escapeXml,
  parseQueryBody,
  queryErrorFor,
  queryNamespace,
  serializeQueryError,
  serializeQueryOutput,
} from "./aws-query.ts";

interface Service {
  readonly shapes: Shapes;
  readonly operations: Readonly<Record<string, OperationSpec>>;
  readonly metadata: ServiceMetadata;
}

const IAM: Service = { shapes: iamShapes, operations: iamOperations, metadata: iamMetadata };
const STS: Service = { shapes: stsShapes, operations: stsOperations, metadata: stsMetadata };

interface Reply {
  readonly status: number;
  readonly xml: string;
}

/**
 * An SDK request handler that records request bodies and answers with a
 * canned reply; by default an empty successful response, written by our codec,
 * for the operation named in the body.
 */
class CannedHandler {
  readonly bodies: string[] = [];
  reply: ((action: string) => Reply) | undefined;
  readonly requestId = "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE";

  constructor(private readonly service: Service) {}

  async handle(request: { body?: unknown }) {
    const body = String(request.body ?? "");
    this.bodies.push(body);
    const action = new URLSearchParams(body).get("Action") ?? "";
    const reply = this.reply?.(action) ?? {
      status: 200,
      xml: serializeQueryOutput(this.service.shapes, action, this.service.operations[action], queryNamespace(this.service.metadata), {}, this.requestId),
    };
    return {
      response: {
        statusCode: reply.status,
        headers: { "content-type": QUERY_CONTENT_TYPE, "x-amzn-requestid": this.requestId },
        body: Readable.from([Buffer.from(reply.xml)]),
      },
    };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  /** The last request's parameters, checked for Action/Version and decoded by the operation's input shape. */
  lastInput(action: string): Record<string, unknown> {
    const params = parseQueryBody(Buffer.from(this.bodies.at(-1) ?? ""));
    expect(params.get("Action")).toBe(action);
    expect(params.get("Version")).toBe(this.service.metadata.apiVersion);
    const inputShape = this.service.operations[action].input;
    if (inputShape === undefined) return {};
    const input = decodeQueryInput(this.service.shapes, inputShape, params);
    validateInput(this.service.shapes, inputShape, input);
    return input;
  }
}

const clientConfig = {
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  maxAttempts: 1,
};

function iamClient() {
  const handler = new CannedHandler(IAM);
  return { handler, client: new iam.IAMClient({ ...clientConfig, requestHandler: handler }) };
}

function stsClient() {
  const handler = new CannedHandler(STS);
  return { handler, client: new sts.STSClient({ ...clientConfig, requestHandler: handler }) };
}

function success(service: Service, action: string, output: unknown): (action: string) => Reply {
  return () => ({
    status: 200,
    xml: serializeQueryOutput(service.shapes, action, service.operations[action], queryNamespace(service.metadata), output, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"),
  });
}

const POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

describe("awsQuery requests from the SDK", () => {
  it("CreateUser: tags (list of structures) and a permissions boundary", async () => {
    const { client, handler } = iamClient();
    const input = {
      UserName: "alice",
      Path: "/team/",
      PermissionsBoundary: "arn:aws:iam::123456789012:policy/boundary",
      Tags: [
        { Key: "team", Value: "payments+billing = 1:2/3@x y" },
        { Key: "cost-center", Value: "42" },
      ],
    };
    await client.send(new iam.CreateUserCommand(input));
    expect(handler.lastInput("CreateUser")).toEqual(input);
  });

  it("CreateRole: URL-encoded policy JSON, an integer and tags", async () => {
    const { client, handler } = iamClient();
    const input = {
      RoleName: "ec2-reader",
      AssumeRolePolicyDocument: POLICY,
      Description: "reads things",
      MaxSessionDuration: 7200,
      Tags: [{ Key: "env", Value: "prod" }],
    };
    await client.send(new iam.CreateRoleCommand(input));
    expect(handler.bodies[0]).toContain("MaxSessionDuration=7200");
    expect(handler.lastInput("CreateRole")).toEqual(input);
  });

  it("PutUserPolicy, ListUsers (MaxItems, Marker), UpdateAccessKey (enum), TagRole", async () => {
    const { client, handler } = iamClient();
    const put = { UserName: "alice", PolicyName: "read", PolicyDocument: POLICY };
    await client.send(new iam.PutUserPolicyCommand(put));
    expect(handler.lastInput("PutUserPolicy")).toEqual(put);

    const list = { PathPrefix: "/team/", MaxItems: 50, Marker: "bWFya2VyLzE=" };
    await client.send(new iam.ListUsersCommand(list));
    expect(handler.lastInput("ListUsers")).toEqual(list);

    const update = { UserName: "alice", AccessKeyId: "AKIAIOSFODNN7EXAMPLE", Status: "Inactive" as const };
    await client.send(new iam.UpdateAccessKeyCommand(update));
    expect(handler.lastInput("UpdateAccessKey")).toEqual(update);

    const tag = { RoleName: "ec2-reader", Tags: [{ Key: "a", Value: "1" }, { Key: "b", Value: "" }] };
    await client.send(new iam.TagRoleCommand(tag));
    expect(handler.lastInput("TagRole")).toEqual(tag);
  });

  it("UpdateAccountPasswordPolicy: booleans and integers", async () => {
    const { client, handler } = iamClient();
    const input = { MinimumPasswordLength: 14, RequireSymbols: true, RequireNumbers: false, MaxPasswordAge: 90, HardExpiry: false };
    await client.send(new iam.UpdateAccountPasswordPolicyCommand(input));
    expect(handler.lastInput("UpdateAccountPasswordPolicy")).toEqual(input);
  });

  it("an empty list arrives as an empty list", async () => {
    const { client, handler } = iamClient();
    await client.send(new iam.TagUserCommand({ UserName: "alice", Tags: [] }));
    expect(handler.lastInput("TagUser")).toEqual({ UserName: "alice", Tags: [] });
  });

  it("STS AssumeRole: every kind of member", async () => {
    const { client, handler } = stsClient();
    const input = {
      RoleArn: "arn:aws:iam::123456789012:role/ec2-reader",
      RoleSessionName: "session-1",
      PolicyArns: [{ arn: "arn:aws:iam::aws:policy/ReadOnlyAccess" }, { arn: "arn:aws:iam::123456789012:policy/p" }],
      Policy: POLICY,
      DurationSeconds: 3600,
      Tags: [{ Key: "project", Value: "coffer" }],
      TransitiveTagKeys: ["project", "team"],
      ExternalId: "ext-id=+,.@:/-",
      SourceIdentity: "alice",
    };
    await client.send(new sts.AssumeRoleCommand(input));
    expect(handler.lastInput("AssumeRole")).toEqual(input);
  });

  it("STS GetCallerIdentity: no input", async () => {
    const { client, handler } = stsClient();
    await client.send(new sts.GetCallerIdentityCommand({}));
    expect(handler.bodies[0]).toBe("Action=GetCallerIdentity&Version=2011-06-15");
    expect(handler.lastInput("GetCallerIdentity")).toEqual({});
  });

  it("XML- and URL-special characters in a policy document survive", async () => {
    const { client, handler } = iamClient();
    const input = { UserName: "a", PolicyName: "p", PolicyDocument: `{"x":"<&>\"'+%20=&a=b\r\n\té"}` };
    await client.send(new iam.PutUserPolicyCommand(input));
    expect(handler.lastInput("PutUserPolicy")).toEqual(input);
  });
});

const CREATED = new Date("2024-03-01T12:34:56.789Z");

const USER = {
  Path: "/team/",
  UserName: "alice",
  UserId: "AIDAJQABLZS4A3QDU576Q",
  Arn: "arn:aws:iam::123456789012:user/team/alice",
  CreateDate: CREATED,
  PermissionsBoundary: { PermissionsBoundaryType: "Policy" as const, PermissionsBoundaryArn: "arn:aws:iam::123456789012:policy/boundary" },
  Tags: [
    { Key: "team", Value: "payments" },
    { Key: "quote", Value: `<&>"'` },
  ],
};

/** The SDK's result without $metadata, after checking the request id reached it. */
function withoutMetadata(result: { $metadata: { requestId?: string } }): Record<string, unknown> {
  const { $metadata, ...rest } = result;
  expect($metadata.requestId).toBe("7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
  return rest;
}

describe("awsQuery responses read by the SDK", () => {
  it("CreateUser: a user with a date, a boundary and tags", async () => {
    const { client, handler } = iamClient();
    const output = { User: USER };
    handler.reply = success(IAM, "CreateUser", output);
    const result = await client.send(new iam.CreateUserCommand({ UserName: "alice" }));
    expect(withoutMetadata(result)).toEqual(output);
    expect(result.User?.CreateDate).toBeInstanceOf(Date);
  });

  it("ListUsers: two users, IsTruncated and Marker; and an empty list", async () => {
    const { client, handler } = iamClient();
    const output = { Users: [USER, { ...USER, UserName: "bob", Tags: undefined, PermissionsBoundary: undefined }], IsTruncated: true, Marker: "next" };
    handler.reply = success(IAM, "ListUsers", output);
    const result = await client.send(new iam.ListUsersCommand({}));
    const { Tags: _tags, PermissionsBoundary: _boundary, ...bob } = output.Users[1];
    expect(withoutMetadata(result)).toEqual({ ...output, Users: [USER, bob] });

    handler.reply = success(IAM, "ListUsers", { Users: [], IsTruncated: false });
    expect(withoutMetadata(await client.send(new iam.ListUsersCommand({})))).toEqual({ Users: [], IsTruncated: false });
  });

  it("CreateAccessKey, GetUserPolicy (URL-encoded document), GetAccountSummary (map)", async () => {
    const { client, handler } = iamClient();
    const key = {
      AccessKey: { UserName: "alice", AccessKeyId: "AKIAIOSFODNN7EXAMPLE", Status: "Active" as const, SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", CreateDate: CREATED },
    };
    handler.reply = success(IAM, "CreateAccessKey", key);
    expect(withoutMetadata(await client.send(new iam.CreateAccessKeyCommand({})))).toEqual(key);

    const policy = { UserName: "alice", PolicyName: "read", PolicyDocument: encodeURIComponent(POLICY) };
    handler.reply = success(IAM, "GetUserPolicy", policy);
    expect(withoutMetadata(await client.send(new iam.GetUserPolicyCommand({ UserName: "alice", PolicyName: "read" })))).toEqual(policy);
    expect(decodeURIComponent(policy.PolicyDocument)).toBe(POLICY);

    const summary = { SummaryMap: { Users: 2, Groups: 0, AccountMFAEnabled: 1 } };
    handler.reply = success(IAM, "GetAccountSummary", summary);
    expect(withoutMetadata(await client.send(new iam.GetAccountSummaryCommand({})))).toEqual(summary);
  });

  it("CreateVirtualMFADevice: blobs as base64", async () => {
    const { client, handler } = iamClient();
    const seed = new Uint8Array([0, 1, 2, 250, 251, 255]);
    handler.reply = success(IAM, "CreateVirtualMFADevice", { VirtualMFADevice: { SerialNumber: "arn:aws:iam::123456789012:mfa/alice", Base32StringSeed: seed } });
    const result = await client.send(new iam.CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: "alice" }));
    expect(Buffer.from(result.VirtualMFADevice?.Base32StringSeed ?? []).equals(Buffer.from(seed))).toBe(true);
  });

  it("an operation without output: no Result element", async () => {
    const xml = serializeQueryOutput(iamShapes, "DeleteUser", iamOperations.DeleteUser, iamMetadata.xmlNamespace, undefined, "req-1");
    expect(xml).toBe(
      '<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DeleteUserResponse>',
    );
    const { client } = iamClient();
    expect(withoutMetadata(await client.send(new iam.DeleteUserCommand({ UserName: "alice" })))).toEqual({});
  });

  it("STS AssumeRole: credentials with an expiration date, assumed role user, packed policy size", async () => {
    const { client, handler } = stsClient();
    const output = {
      Credentials: {
        AccessKeyId: "ASIAIOSFODNN7EXAMPLE",
        SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        SessionToken: "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW==",
        Expiration: new Date("2030-01-01T00:00:00.000Z"),
      },
      AssumedRoleUser: { AssumedRoleId: "AROA3XFRBF535PLBIFPI4:session-1", Arn: "arn:aws:sts::123456789012:assumed-role/ec2-reader/session-1" },
      PackedPolicySize: 6,
      SourceIdentity: "alice",
    };
    handler.reply = success(STS, "AssumeRole", output);
    const result = await client.send(new sts.AssumeRoleCommand({ RoleArn: "arn:aws:iam::123456789012:role/ec2-reader", RoleSessionName: "session-1" }));
    expect(withoutMetadata(result)).toEqual(output);
  });

  it("STS GetCallerIdentity, byte for byte", async () => {
    const output = { UserId: "AIDAJQABLZS4A3QDU576Q", Account: "123456789012", Arn: "arn:aws:iam::123456789012:user/alice" };
    const xml = serializeQueryOutput(stsShapes, "GetCallerIdentity", stsOperations.GetCallerIdentity, stsMetadata.xmlNamespace, { Arn: output.Arn, Account: output.Account, UserId: output.UserId }, "req-2");
    expect(xml).toBe(
      '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
        "<UserId>AIDAJQABLZS4A3QDU576Q</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/alice</Arn>" +
        "</GetCallerIdentityResult><ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
    );
    const { client, handler } = stsClient();
    handler.reply = success(STS, "GetCallerIdentity", output);
    expect(withoutMetadata(await client.send(new sts.GetCallerIdentityCommand({})))).toEqual(output);
  });
});

/** The SDK's rejection for an error reply. */
async function rejection(send: () => Promise<unknown>): Promise<Error & { $metadata?: { requestId?: string; httpStatusCode?: number }; $fault?: string; RequestId?: string }> {
  try {
    await send();
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error("expected the SDK to reject");
}

function errorReply(service: Service, exception: string, message: string): (action: string) => Reply {
  const { code, status, type } = queryErrorFor(service.shapes, exception);
  return () => ({ status, xml: serializeQueryError(queryNamespace(service.metadata), type, code, message, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE") });
}

describe("awsQuery errors read by the SDK", () => {
  it("queryErrorFor takes code, status and fault from the model", () => {
    expect(queryErrorFor(iamShapes, "NoSuchEntityException")).toEqual({ code: "NoSuchEntity", status: 404, type: "Sender" });
    expect(queryErrorFor(iamShapes, "EntityAlreadyExistsException")).toEqual({ code: "EntityAlreadyExists", status: 409, type: "Sender" });
    expect(queryErrorFor(iamShapes, "ServiceFailureException")).toEqual({ code: "ServiceFailure", status: 500, type: "Receiver" });
    expect(queryErrorFor(stsShapes, "MalformedPolicyDocumentException")).toEqual({ code: "MalformedPolicyDocument", status: 400, type: "Sender" });
    expect(() => queryErrorFor(iamShapes, "NoSuchThing")).toThrow(CofferError);
  });

  it("IAM NoSuchEntity (404) and EntityAlreadyExists (409) become the modelled classes", async () => {
    const { client, handler } = iamClient();
    handler.reply = errorReply(IAM, "NoSuchEntityException", "The user with name bob cannot be found.");
    const missing = await rejection(() => client.send(new iam.GetUserCommand({ UserName: "bob" })));
    expect(missing).toBeInstanceOf(iam.NoSuchEntityException);
    expect(missing.message).toBe("The user with name bob cannot be found.");
    expect(missing.$metadata).toMatchObject({ httpStatusCode: 404, requestId: handler.requestId });
    expect(missing.RequestId).toBe(handler.requestId);
    expect(missing.$fault).toBe("client");

    handler.reply = errorReply(IAM, "EntityAlreadyExistsException", "User with name alice already exists.");
    const exists = await rejection(() => client.send(new iam.CreateUserCommand({ UserName: "alice" })));
    expect(exists).toBeInstanceOf(iam.EntityAlreadyExistsException);
    expect(exists.message).toBe("User with name alice already exists.");
    expect(exists.$metadata?.httpStatusCode).toBe(409);
  });

  const tables = [
    {
      name: "IAM",
      service: IAM,
      base: iam.IAMServiceException,
      sender: (handler: CannedHandler) => {
        const client = new iam.IAMClient({ ...clientConfig, requestHandler: handler });
        return () => client.send(new iam.ListUsersCommand({}));
      },
    },
    {
      name: "STS",
      service: STS,
      base: sts.STSServiceException,
      sender: (handler: CannedHandler) => {
        const client = new sts.STSClient({ ...clientConfig, requestHandler: handler });
        return () => client.send(new sts.GetCallerIdentityCommand({}));
      },
    },
  ];

  it.each(tables)("every modelled $name exception reaches the SDK as its class", async ({ service, base, sender }) => {
    const handler = new CannedHandler(service);
    const send = sender(handler);
    const exceptions = Object.entries(service.shapes).filter(([, s]) => s.type === "structure" && s.exception === true);
    expect(exceptions.length).toBeGreaterThan(5);
    for (const [name] of exceptions) {
      handler.reply = errorReply(service, name, `message of ${name}`);
      const err = await rejection(send);
      expect(err, name).toBeInstanceOf(base);
      expect(err.name).toBe(name);
      expect(err.message).toBe(`message of ${name}`);
      expect(err.$fault).toBe(queryErrorFor(service.shapes, name).type === "Sender" ? "client" : "server");
    }
  });

  it("STS: unmodelled AccessDenied and ExpiredToken keep their code as the error name", async () => {
    const { client, handler } = stsClient();
    const ns = queryNamespace(stsMetadata);
    handler.reply = () => ({ status: 403, xml: serializeQueryError(ns, "Sender", "AccessDenied", "User: x is not authorized to perform: sts:AssumeRole", "r") });
    const denied = await rejection(() => client.send(new sts.AssumeRoleCommand({ RoleArn: "arn:aws:iam::123456789012:role/r", RoleSessionName: "s" })));
    expect(denied).toBeInstanceOf(sts.STSServiceException);
    expect(denied.name).toBe("AccessDenied");
    expect(denied.message).toBe("User: x is not authorized to perform: sts:AssumeRole");
    expect(denied.$metadata?.requestId).toBe(handler.requestId);

    handler.reply = () => ({ status: 400, xml: serializeQueryError(ns, "Sender", "ExpiredToken", "The security token included in the request is expired", "r") });
    const expired = await rejection(() => client.send(new sts.GetCallerIdentityCommand({})));
    expect(expired.name).toBe("ExpiredToken");

    handler.reply = errorReply(STS, "ExpiredTokenException", "Token expired");
    expect(await rejection(() => client.send(new sts.GetCallerIdentityCommand({})))).toBeInstanceOf(sts.ExpiredTokenException);
  });

  it("the error XML, byte for byte", () => {
    expect(serializeQueryError(iamMetadata.xmlNamespace, "Sender", "NoSuchEntity", "No user <bob>.", "r-1")).toBe(
      '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>' +
        "<Message>No user &lt;bob&gt;.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>",
    );
  });
});

describe("awsQuery XML escaping", () => {
  const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

  it("escapes markup characters and CR, and drops characters XML cannot carry", () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
    expect(escapeXml("a\u0000b\u0007c\u001Fd\r\n\te\uFFFF\uD800f😀")).toBe("abcd&#xD;\n\tef😀");
  });

  it("a message with control characters reaches the SDK as valid XML", async () => {
    const { client, handler } = iamClient();
    const message = "bad\u0000 input\u0001\u001B[31m\r\nline 2\uDC00";
    const xml = serializeQueryError(iamMetadata.xmlNamespace, "Sender", "ValidationError", message, "r");
    expect(xml).not.toMatch(NOT_XML);
    handler.reply = () => ({ status: 400, xml });
    const err = await rejection(() => client.send(new iam.ListUsersCommand({})));
    expect(err.message).toBe("bad input[31m\r\nline 2");
  });

  it("a user name and tag value with <&>\"' survive a response", async () => {
    const { client, handler } = iamClient();
    const output = { User: { ...USER, UserName: `x<&>"'y`, Tags: [{ Key: `<&>"'`, Value: `"'<&>` }] } };
    handler.reply = success(IAM, "GetUser", output);
    expect(withoutMetadata(await client.send(new iam.GetUserCommand({})))).toEqual(output);
  });
});

/** Shapes exercising what IAM and STS do not: maps, flattened lists, locationName, timestamps, blobs, doubles. */
const SYNTHETIC: Shapes = {
  Input: {
    type: "structure",
    members: {
      Attributes: { shape: "AttributeMap" },
      Names: { shape: "NameList", flattened: true },
      Renamed: { shape: "Str", locationName: "WireName" },
      When: { shape: "Time" },
      Data: { shape: "Bytes" },
      Ratio: { shape: "Dbl" },
      Count: { shape: "Int" },
      Enabled: { shape: "Bool" },
      Nested: { shape: "Input" },
      Items: { shape: "ItemList" },
    },
  },
  AttributeMap: { type: "map", key: { shape: "Str", locationName: "Name" }, value: { shape: "Int", locationName: "Value" } },
  NameList: { type: "list", member: { shape: "Str" } },
  ItemList: { type: "list", member: { shape: "Str", locationName: "Item" } },
  Str: { type: "string" },
  Time: { type: "timestamp" },
  Bytes: { type: "blob" },
  Dbl: { type: "double" },
  Int: { type: "integer" },
  Bool: { type: "boolean" },
  Output: {
    type: "structure",
    members: {
      Stamp: { shape: "Time" },
      Epoch: { shape: "Time", timestampFormat: "unixTimestamp" },
      Names: { shape: "NameList", flattened: true },
      Items: { shape: "ItemList" },
      Attributes: { shape: "AttributeMap" },
      Data: { shape: "Bytes" },
      Enabled: { shape: "Bool" },
      Renamed: { shape: "Str", locationName: "WireName" },
    },
  },
};

function decode(body: string): Record<string, unknown> {
  return decodeQueryInput(SYNTHETIC, "Input", parseQueryBody(Buffer.from(body)));
}

describe("awsQuery decoding by shape", () => {
  it("maps, flattened lists, renamed members, timestamps, blobs, doubles and nesting", () => {
    const input = decode(
      "Action=Op&Version=1&Attributes.entry.1.Name=a&Attributes.entry.1.Value=1&Attributes.entry.2.Name=__proto__&Attributes.entry.2.Value=2" +
        "&Names.2=second&Names.1=first&Names.10=tenth&WireName=w&Renamed=ignored&When=2024-03-01T12%3A34%3A56.789Z&Data=AAEC%2Bw%3D%3D" +
        "&Ratio=-1.5e3&Count=%2B7&Enabled=false&Nested.Count=3&Nested.Nested.WireName=deep&Items.Item.1=x&Unknown.member.1=y",
    );
    expect(input).toEqual({
      Attributes: Object.defineProperty({ a: 1 }, "__proto__", { value: 2, enumerable: true, writable: true, configurable: true }),
      Names: ["first", "second", "tenth"],
      Renamed: "w",
      When: new Date("2024-03-01T12:34:56.789Z"),
      Data: "AAEC+w==",
      Ratio: -1500,
      Count: 7,
      Enabled: false,
      Nested: { Count: 3, Nested: { Renamed: "deep" } },
      Items: ["x"],
    });
    expect(Object.getPrototypeOf(input.Attributes)).toBe(Object.prototype);
    validateInput(SYNTHETIC, "Input", input);
  });

  it("timestamps as ISO 8601 with an offset, or epoch seconds", () => {
    expect(decode("When=2024-03-01T14:34:56%2B02:00").When).toEqual(new Date("2024-03-01T12:34:56Z"));
    expect(decode("When=1709296496.5").When).toEqual(new Date(1709296496500));
  });

  it.each([
    ["Count=1.5", "Count"],
    ["Count=", "Count"],
    ["Nested.Count=ten", "Nested.Count"],
    ["Attributes.entry.1.Name=a&Attributes.entry.1.Value=x", "Attributes.entry.1.Value"],
    ["Enabled=yes", "Enabled"],
    ["Enabled=TRUE", "Enabled"],
    ["Ratio=0x10", "Ratio"],
    ["When=yesterday", "When"],
    ["When=2024-03-01", "When"],
  ])("%s is a Serialization error naming %s", (body, param) => {
    let caught: unknown;
    try {
      decode(body);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CofferError);
    expect(caught).toMatchObject({ code: "Serialization", message: expect.stringContaining(`parameter ${param} `) });
  });

  it("an undecodable blob is left for validateInput to refuse", () => {
    const input = decode("Data=not%20base64!");
    expect(() => validateInput(SYNTHETIC, "Input", input)).toThrow(expect.objectContaining({ code: "Serialization" }));
  });

  it("an unknown input shape is an internal error", () => {
    expect(() => decodeQueryInput(SYNTHETIC, "Nope", new URLSearchParams())).toThrow(expect.objectContaining({ code: "Internal" }));
  });
});

describe("awsQuery writing by shape", () => {
  it("flattened lists, renamed list items, maps, timestamp formats, blobs and member order", () => {
    const spec: OperationSpec = { output: "Output", errors: [] };
    const xml = serializeQueryOutput(
      SYNTHETIC,
      "Op",
      spec,
      "urn:test",
      {
        Renamed: "r",
        Enabled: true,
        Data: Buffer.from([0, 1, 2, 251]),
        Attributes: { a: 1, b: 2 },
        Items: ["x", "y"],
        Names: ["n1", "n2"],
        Epoch: new Date(1709296496500),
        Stamp: new Date("2024-03-01T12:34:56Z"),
        Extra: "not in the shape",
      },
      "r1",
    );
    expect(xml).toBe(
      '<OpResponse xmlns="urn:test"><OpResult>' +
        "<Stamp>2024-03-01T12:34:56.000Z</Stamp><Epoch>1709296496.5</Epoch><Names>n1</Names><Names>n2</Names>" +
        "<Items><Item>x</Item><Item>y</Item></Items>" +
        "<Attributes><entry><Name>a</Name><Value>1</Value></entry><entry><Name>b</Name><Value>2</Value></entry></Attributes>" +
        "<Data>AAEC+w==</Data><Enabled>true</Enabled><WireName>r</WireName>" +
        "</OpResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></OpResponse>",
    );
  });

  it("empty lists and strings are empty elements; the Result element is there even for an empty output", () => {
    const spec: OperationSpec = { output: "Output", resultWrapper: "CustomResult", errors: [] };
    expect(serializeQueryOutput(SYNTHETIC, "Op", spec, "urn:test", { Items: [], Renamed: "" }, "r")).toBe(
      '<OpResponse xmlns="urn:test"><CustomResult><Items/><WireName/></CustomResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></OpResponse>',
    );
    expect(serializeQueryOutput(SYNTHETIC, "Op", spec, "urn:test", undefined, "r")).toContain("<CustomResult/>");
  });

  it("namespaces: the model's, else AWS's convention", () => {
    expect(queryNamespace(iamMetadata)).toBe("https://iam.amazonaws.com/doc/2010-05-08/");
    expect(queryNamespace(stsMetadata)).toBe("https://sts.amazonaws.com/doc/2011-06-15/");
    expect(queryNamespace({ ...stsMetadata, xmlNamespace: undefined })).toBe("https://sts.amazonaws.com/doc/2011-06-15/");
  });
});

describe("parseQueryBody", () => {
  it("decodes as URLSearchParams does: + is a space, malformed escapes stay literal", () => {
    const p = parseQueryBody(Buffer.from("Action=GetUser&UserName=a+b%20c%zz&Empty=&Flag"));
    expect(p.get("UserName")).toBe("a b c%zz");
    expect(p.get("Empty")).toBe("");
    expect(p.get("Flag")).toBe("");
    expect(p.get("Action")).toBe("GetUser");
    expect(parseQueryBody(Buffer.from("Tags.member.1.Value=%C3%A9t%C3%A9")).get("Tags.member.1.Value")).toBe("été");
  });

  it("refuses escapes or raw bytes that are not UTF-8 instead of turning them into U+FFFD", () => {
    for (const body of [Buffer.from("Action=CreateUser&UserName=%FF"), Buffer.from("Action=CreateUser&%C3=1"), Buffer.concat([Buffer.from("Action=CreateUser&UserName="), Buffer.from([0xff])])]) {
      let err: unknown;
      try {
        parseQueryBody(body);
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string }).code, body.toString("latin1")).toBe("Serialization");
    }
  });
});
