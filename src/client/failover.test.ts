import { expect, it } from "vitest";
import { FailoverSender, isUnreachable } from "./failover.ts";

it("counts only unreachability as a reason to move on, never an answer", () => {
  expect(isUnreachable(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe(true);
  expect(isUnreachable({ name: "TimeoutError" })).toBe(true);
  expect(isUnreachable({ name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } })).toBe(true);
  expect(isUnreachable({ name: "AccessDeniedException", $metadata: { httpStatusCode: 400 } })).toBe(false);
  expect(isUnreachable({ name: "ResourceNotFoundException", $metadata: { httpStatusCode: 400 } })).toBe(false);
  expect(isUnreachable({ name: "InternalServiceError", $metadata: { httpStatusCode: 500 } })).toBe(false);
});

it("asks the region that answered first after a failover, and the first region again later", async () => {
  let now = 0;
  let eastUp = false;
  const calls: string[] = [];
  const client = (region: string, up: () => boolean) => ({
    async send(cmd: { input: object }) {
      calls.push(region);
      if (!up()) throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
      return { region, input: cmd.input };
    },
  });
  const sender = new FailoverSender(
    [
      { region: "us-east-1", client: client("us-east-1", () => eastUp) },
      { region: "us-west-2", client: client("us-west-2", () => true) },
    ],
    { retryFirstAfterMs: 1000, clock: { now: () => now } },
  );
  class Get {
    constructor(readonly input: object) {}
  }
  const out = (await sender.send(new Get({ SecretId: "arn:aws:secretsmanager:us-east-1:000000000000:secret:a-AbCdEf" }) as never)) as { input: { SecretId: string } };
  expect(out.input.SecretId).toBe("arn:aws:secretsmanager:us-west-2:000000000000:secret:a-AbCdEf");
  expect(sender.order()).toEqual(["us-west-2", "us-east-1"]);
  eastUp = true;
  now = 1000;
  expect(sender.order()).toEqual(["us-east-1", "us-west-2"]);
  calls.length = 0;
  await sender.send(new Get({ SecretId: "a" }) as never);
  expect(calls).toEqual(["us-east-1"]);
});
