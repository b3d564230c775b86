import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { ListSecretsCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, expect, it } from "vitest";
import { behindTheServer, startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";

/**
 * Coffer.VerifyAuditTrail (docs/audit.md, shown by the web console): the
 * chain check of `coffer audit verify`, as an authorised, audited API call
 * signed for service "coffer".
 */

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
});
afterAll(() => run.stop());

const verify = (credentials = run.credentials) => rawCall(run.url, { target: "Coffer.VerifyAuditTrail", service: "coffer", credentials, body: "{}" });

it("says the chain is intact with its extent, is itself audited, and needs coffer:VerifyAuditTrail", async () => {
  await run.client.send(new ListSecretsCommand({}));
  await run.client.send(new ListSecretsCommand({}));
  const r = await verify();
  expect(r.status).toBe(200);
  const body = r.json();
  expect(body).toMatchObject({ Intact: true, FirstSequence: 1, SignedCheckpoints: 0 });
  expect(body.EventCount).toBeGreaterThanOrEqual(2);
  expect(body.LastSequence).toBe(body.EventCount);

  const trail = new CloudTrailClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  const events = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "VerifyAuditTrail" }] }));
  expect(events.Events?.length).toBe(1);

  const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  await iam.send(new CreateUserCommand({ UserName: "auditor" }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: "auditor",
      PolicyName: "trail",
      PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "cloudtrail:LookupEvents", Resource: "*" }] }),
    }),
  );
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: "auditor" }))).AccessKey!;
  const denied = await verify({ accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! });
  expect(denied.status).toBe(400);
  expect(denied.json().__type).toBe("AccessDeniedException");
  expect(String(denied.json().message)).toContain("user/auditor is not authorized to perform: coffer:VerifyAuditTrail");

  await iam.send(
    new PutUserPolicyCommand({
      UserName: "auditor",
      PolicyName: "verify",
      PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "coffer:VerifyAuditTrail", Resource: "*" }] }),
    }),
  );
  expect((await verify({ accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! })).json().Intact).toBe(true);
});

it("names the first altered event when the database was edited behind the server", async () => {
  await behindTheServer(run, `UPDATE audit_rows SET record = replace(record, '"eventVersion"', '"eventversion"') WHERE seq = 3`);
  const r = await verify();
  expect(r.status).toBe(200);
  expect(r.json()).toEqual({ Intact: false, ProblemSequence: 3, Problem: "event 3 was altered" });
});
