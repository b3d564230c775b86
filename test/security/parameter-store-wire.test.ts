import {
  DeleteParameterCommand,
  DeleteParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  ParameterPatternMismatchException,
  PutParameterCommand,
  SSMClient,
} from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";

/**
 * Parameter Store behaviours AWS has and Coffer must keep on the wire
 * (issue 12, "Also correct on the wire"): a parameter's AllowedPattern
 * guards every overwrite; a malformed name is refused on read as on write
 * (else "a/b" reads "/a/b": the two share an ARN); GetParameters answers in
 * alphabetical order.
 */

const INVALID_NAME =
  'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_';

let run: Running;
let ssm: SSMClient;

beforeAll(async () => {
  run = await startCoffer();
  ssm = new SSMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  await ssm.send(new PutParameterCommand({ Name: "/a/b", Value: "under-a", Type: "SecureString" }));
}, 30_000);
afterAll(async () => {
  await run?.stop();
});

describe("AllowedPattern stays with a parameter", () => {
  it("an overwrite without AllowedPattern is checked against the stored one, and keeps it", async () => {
    await ssm.send(new PutParameterCommand({ Name: "/pattern/port", Value: "8080", Type: "String", AllowedPattern: "^\\d+$" }));
    for (const extra of [{}, { AllowedPattern: "" }]) {
      const err = await failure(ssm.send(new PutParameterCommand({ Name: "/pattern/port", Value: "not-a-port", Overwrite: true, ...extra })));
      expect(err).toBeInstanceOf(ParameterPatternMismatchException);
      expect(err.message).not.toContain("not-a-port");
    }
    await ssm.send(new PutParameterCommand({ Name: "/pattern/port", Value: "9090", Overwrite: true }));
    const history = await ssm.send(new GetParameterHistoryCommand({ Name: "/pattern/port" }));
    expect(history.Parameters!.map((h) => [h.Value, h.AllowedPattern])).toEqual([
      ["8080", "^\\d+$"],
      ["9090", "^\\d+$"],
    ]);
    // Still there after the overwrite that passed.
    const again = await failure(ssm.send(new PutParameterCommand({ Name: "/pattern/port", Value: "x", Overwrite: true })));
    expect(again).toBeInstanceOf(ParameterPatternMismatchException);
  });
});

describe("a malformed name is refused on read as on write", () => {
  const malformed = ["a/b", "/a//b", "/a/b/", "a b"];

  it("PutParameter refuses them with AWS's message", async () => {
    for (const Name of malformed) {
      const err = await failure(ssm.send(new PutParameterCommand({ Name, Value: "v", Type: "String" })));
      expect([Name, err.name, err.message]).toEqual([Name, "ValidationException", INVALID_NAME]);
    }
  });

  it("GetParameter, GetParameterHistory, DeleteParameter, LabelParameterVersion: ValidationException, never /a/b's value", async () => {
    for (const Name of malformed) {
      for (const command of [
        new GetParameterCommand({ Name, WithDecryption: true }),
        new GetParameterHistoryCommand({ Name, WithDecryption: true }),
        new DeleteParameterCommand({ Name }),
        new LabelParameterVersionCommand({ Name, Labels: ["l1"] }),
      ]) {
        const err = await failure(ssm.send(command as GetParameterCommand));
        expect([Name, command.constructor.name, err.name, err.message]).toEqual([Name, command.constructor.name, "ValidationException", INVALID_NAME]);
      }
    }
    // By ARN too: arn:…:parameter/a//b names "/a//b".
    const err = await failure(ssm.send(new GetParameterCommand({ Name: "arn:aws:ssm:us-east-1:000000000000:parameter/a//b" })));
    expect(err.name).toBe("ValidationException");
    // /a/b is still there, untouched.
    expect((await ssm.send(new GetParameterCommand({ Name: "/a/b", WithDecryption: true }))).Parameter!.Value).toBe("under-a");
  });

  it("GetParameters and DeleteParameters list malformed names as InvalidParameters", async () => {
    const got = await ssm.send(new GetParametersCommand({ Names: ["a/b", "/a/b", "/a//b"], WithDecryption: true }));
    expect(got.Parameters!.map((p) => p.Name)).toEqual(["/a/b"]);
    expect(got.InvalidParameters).toEqual(["a/b", "/a//b"]);
    const deleted = await ssm.send(new DeleteParametersCommand({ Names: ["a/b", "/a//b"] }));
    expect(deleted.DeletedParameters).toEqual([]);
    expect(deleted.InvalidParameters).toEqual(["a/b", "/a//b"]);
    expect((await ssm.send(new GetParameterCommand({ Name: "/a/b", WithDecryption: true }))).Parameter!.Value).toBe("under-a");
  });

  it("GetParametersByPath refuses a path without its leading slash or with an empty level", async () => {
    for (const Path of ["a", "a/", "/a//"]) {
      const err = await failure(ssm.send(new GetParametersByPathCommand({ Path })));
      expect([Path, err.name]).toEqual([Path, "ValidationException"]);
      expect(err.message).toMatch(/^The parameter doesn't meet the parameter name requirements\. The parameter name must begin with a forward slash "\/"\./);
    }
  });
});

describe("GetParameters order", () => {
  it("answers in alphabetical order of name, whatever the order asked", async () => {
    for (const Name of ["/order/b", "/order/a", "/order/c", "order-top"]) {
      await ssm.send(new PutParameterCommand({ Name, Value: Name, Type: "String" }));
    }
    const got = await ssm.send(new GetParametersCommand({ Names: ["order-top", "/order/c", "/order/missing", "/order/a", "/order/b"] }));
    expect(got.Parameters!.map((p) => p.Name)).toEqual(["/order/a", "/order/b", "/order/c", "order-top"]);
    expect(got.InvalidParameters).toEqual(["/order/missing"]);
  });
});
