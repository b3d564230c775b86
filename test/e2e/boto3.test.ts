import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";

const run = promisify(execFile);

function hasBoto3(): boolean {
  try {
    execFileSync("python3", ["-c", "import boto3"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
// boto3 comes with this machine's Python; PyPI is out of reach, so without it the test says why it is skipped.
const haveBoto3 = hasBoto3();
if (!haveBoto3) console.warn("skipping boto3 tests (Secrets Manager and SSM): python3 cannot import boto3");

const secretsScript = `
import base64, json, os, boto3, botocore
sm = boto3.client("secretsmanager", endpoint_url=os.environ["URL"], region_name="us-east-1")
out = {}
out["created"] = sm.create_secret(Name="py/app", SecretString="one", Tags=[{"Key": "team", "Value": "py"}])["Name"]
sm.put_secret_value(SecretId="py/app", SecretBinary=b"\\x00\\xffbytes")
v = sm.get_secret_value(SecretId="py/app")
out["binary"] = base64.b64encode(v["SecretBinary"]).decode()
out["previous"] = sm.get_secret_value(SecretId="py/app", VersionStage="AWSPREVIOUS")["SecretString"]
out["created_type"] = type(v["CreatedDate"]).__name__
out["listed"] = [s["Name"] for s in sm.get_paginator("list_secrets").paginate().build_full_result()["SecretList"]]
try:
    sm.get_secret_value(SecretId="py/none")
except sm.exceptions.ResourceNotFoundException as e:
    out["not_found"] = e.response["Error"]["Message"]
print(json.dumps(out))
`;

const parametersScript = `
import json, os, boto3
ssm = boto3.client("ssm", endpoint_url=os.environ["URL"], region_name="us-east-1")
out = {}
out["put"] = ssm.put_parameter(Name="/py/app/db/host", Value="db.internal", Type="String")["Version"]
ssm.put_parameter(Name="/py/app/db/password", Value="s3cret", Type="SecureString")
for i in range(11):
    ssm.put_parameter(Name=f"/py/app/flags/f{i:02d}", Value=str(i), Type="String")
p = ssm.get_parameter(Name="/py/app/db/password", WithDecryption=True)["Parameter"]
out["value"] = p["Value"]
out["modified_type"] = type(p["LastModifiedDate"]).__name__
pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/py/app", Recursive=True, WithDecryption=True)
out["by_path"] = [x["Name"] for page in pages for x in page["Parameters"]]
described = ssm.get_paginator("describe_parameters").paginate(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/py"]}])
out["described"] = sum(len(page["Parameters"]) for page in described)
try:
    ssm.get_parameter(Name="/py/none")
except ssm.exceptions.ParameterNotFound as e:
    out["not_found"] = e.response["Error"]["Code"]
try:
    ssm.put_parameter(Name="/py/app/db/host", Value="x", Type="String")
except ssm.exceptions.ParameterAlreadyExists as e:
    out["exists"] = e.response["Error"]["Code"]
print(json.dumps(out))
`;

let server: Spawned;
let dataDir: string;
beforeAll(async () => {
  if (!haveBoto3) return;
  dataDir = mkdtempSync(join(tmpdir(), "coffer-boto3-"));
  server = await spawnServer(["--data-dir", dataDir]);
});
afterAll(async () => {
  if (!haveBoto3) return;
  server.child.kill("SIGTERM");
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

/** Runs a boto3 script against the server with the administrator's key; its stdout is JSON. */
async function python(script: string): Promise<unknown> {
  const creds = printedCredentials(server.output());
  const { stdout } = await run("python3", ["-c", script], {
    env: {
      PATH: process.env.PATH,
      HOME: dataDir,
      URL: server.url,
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_CONFIG_FILE: join(dataDir, "none"),
    },
  });
  return JSON.parse(stdout);
}

it.skipIf(!haveBoto3)("boto3 round-trips string and binary secrets and parses typed errors", async () => {
  expect(await python(secretsScript)).toEqual({
    created: "py/app",
    binary: Buffer.from([0, 255, ...Buffer.from("bytes")]).toString("base64"),
    previous: "one",
    created_type: "datetime",
    listed: ["py/app"],
    not_found: "Secrets Manager can't find the specified secret.",
  });
});

it.skipIf(!haveBoto3)("boto3's ssm client puts, reads, pages by path and parses typed errors", async () => {
  expect(await python(parametersScript)).toEqual({
    put: 1,
    value: "s3cret",
    modified_type: "datetime",
    by_path: ["/py/app/db/host", "/py/app/db/password", ...Array.from({ length: 11 }, (_, i) => `/py/app/flags/f${String(i).padStart(2, "0")}`)],
    described: 13,
    not_found: "ParameterNotFound",
    exists: "ParameterAlreadyExists",
  });
});
