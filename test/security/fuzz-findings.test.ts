import { connect } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startCoffer, type Running } from "../e2e/harness.ts";
import { rawCall } from "../e2e/raw.ts";

/**
 * Crashes the fuzzer (bench/fuzz.ts) found that no other item covers, each
 * replayed over a raw socket: a request Fastify itself refuses is the
 * client's fault (4xx), never an InternalFailure; a timestamp no Date can
 * hold is a 400, not a RangeError when the audit event is written.
 */

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
}, 30_000);
afterAll(async () => {
  await run?.stop();
});

/** The status line of the answer to `bytes`. */
function status(bytes: string): Promise<number> {
  const u = new URL(run.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port) }, () => socket.write(bytes));
    let head = "";
    socket.on("data", (d: Buffer) => {
      head += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on("error", reject);
  });
}

it("an empty Content-Type is a 400, not a 500 (fuzz seed 1, index 457)", async () => {
  for (const target of ["AmazonSSM.DeleteParameter", "secretsmanager.GetSecretValue", ""]) {
    const code = await status(`POST / HTTP/1.1\r\nhost: x\r\ncontent-type: \r\nx-amz-target: ${target}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`);
    expect([target, code]).toEqual([target, 400]);
  }
});

it("a timestamp beyond a Date's range is a 400, not a 500 (fuzz seed 20240612, index 18575)", async () => {
  const target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
  for (const body of ['{"StartTime":100000000000000000000}', '{"EndTime":-1e300}', '{"StartTime":8640000000001}']) {
    const r = await rawCall(run.url, { target, service: "cloudtrail", body, credentials: run.credentials });
    expect([body, r.status, r.json().__type]).toEqual([body, 400, "SerializationException"]);
  }
  const fine = await rawCall(run.url, { target, service: "cloudtrail", body: '{"StartTime":8640000000000}', credentials: run.credentials });
  expect(fine.status).toBe(200);
});
