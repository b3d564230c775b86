import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateAccessKeyCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  IAMClient,
  ListOpenIDConnectProvidersCommand,
  ListOpenIDConnectProviderTagsCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveClientIDFromOpenIDConnectProviderCommand,
  TagOpenIDConnectProviderCommand,
  UntagOpenIDConnectProviderCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateOpenIDConnectProviderThumbprintCommand,
} from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { generate } from "selfsigned";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";
import { coffer, finished } from "./cli-process.ts";

/**
 * Workload identity end to end (docs/workload-identity.md): IAM OIDC providers and STS
 * AssumeRoleWithWebIdentity with the real SDK, tokens minted with real key pairs whose public
 * halves a local HTTPS issuer serves (discovery document and JWKS), as a Kubernetes cluster,
 * GitHub or GitLab would.
 */

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const ACCOUNT = "000000000000";
const OTHER = "111111111111";

// The server's clock, which the test moves on (key refetch cooldowns); clients sign with it.
let now = Date.now();
const clock = { now: () => now };

let run: Running;
let issuerServer: Server;
let base: string; // https://127.0.0.1:<port>
let dir: string;
const hits = new Map<string, number>();
const rsa = await generateKeyPair("RS256", { extractable: true });
const ec = await generateKeyPair("ES256", { extractable: true });
const rotated = await generateKeyPair("RS256", { extractable: true });
const stranger = await generateKeyPair("RS256", { extractable: true });
const publicJwk = async (key: CryptoKey, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(key)), kid, alg, use: "sig" });
let servedKeys: JWK[] = [];

const opts = (credentials?: Creds) => ({
  endpoint: run.url,
  region: "us-east-1",
  maxAttempts: 1,
  systemClockOffset: now - Date.now(),
  ...(credentials ? { credentials } : {}),
});
const iam = (c: Creds) => new IAMClient(opts(c));
const sm = (c: Creds) => new SecretsManagerClient(opts(c));
// AssumeRoleWithWebIdentity is unsigned: this client has no credentials at all.
const anonymousSts = () => new STSClient(opts());
const policy = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });

const issuerA = () => `${base}/cluster-a`;
const providerArnOf = (account: string, issuer: string) => `arn:aws:iam::${account}:oidc-provider/${issuer.replace("https://", "")}`;

async function mint(
  claims: Record<string, unknown>,
  { key = rsa.privateKey, kid = "rsa-1", alg = "RS256", expiresIn = 600 }: { key?: CryptoKey; kid?: string; alg?: string; expiresIn?: number } = {},
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ iss: issuerA(), aud: "sts.amazonaws.com", sub: "system:serviceaccount:prod:app", iat, exp: iat + expiresIn, ...claims })
    .setProtectedHeader({ alg, kid, typ: "JWT" })
    .sign(key);
}

const b64url = (v: object | string) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

async function assume(token: string, extra: { RoleArn?: string; DurationSeconds?: number; RoleSessionName?: string } = {}) {
  return anonymousSts().send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/k8s-app`,
      RoleSessionName: "app-pod",
      WebIdentityToken: token,
      ...extra,
    }),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "coffer-oidc-"));
  // The issuer's TLS certificate, signed by itself: Coffer trusts it through oidcCaFile, as it would a cluster CA.
  const pems = await generate([{ name: "commonName", value: "issuer.test" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 7, ip: "127.0.0.2" }] }],
  });
  writeFileSync(join(dir, "issuer-ca.pem"), pems.cert);
  servedKeys = [await publicJwk(rsa.publicKey, "rsa-1", "RS256"), await publicJwk(ec.publicKey, "ec-1", "ES256")];
  issuerServer = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const issuer = `https://${req.headers.host}${path.replace(/\/(\.well-known\/openid-configuration|keys)$/, "")}`;
    res.setHeader("content-type", "application/json");
    if (path.endsWith("/.well-known/openid-configuration")) {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys`, id_token_signing_alg_values_supported: ["RS256", "ES256"] }));
    } else if (path.endsWith("/keys")) {
      res.end(JSON.stringify({ keys: servedKeys }));
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, "0.0.0.0", resolve));
  base = `https://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  run = await startCoffer({
    clock,
    env: { COFFER_OIDC_ALLOWED_NETWORKS: "127.0.0.1/32", COFFER_OIDC_CA_FILE: join(dir, "issuer-ca.pem") },
  });
});

afterAll(async () => {
  await run?.stop();
  await new Promise((resolve) => issuerServer?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const fetches = () => [...hits].filter(([p]) => p.startsWith("/cluster-a/")).reduce((n, [, c]) => n + c, 0);

describe("IAM OpenID Connect providers", () => {
  it("are created without contacting the issuer, read, changed, tagged and deleted as IAM does", async () => {
    const admin = iam(run.credentials);
    const url = `${base}/declared-early`;
    const created = await admin.send(
      new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: ["sts.amazonaws.com"], Tags: [{ Key: "team", Value: "platform" }] }),
    );
    const arn = providerArnOf(ACCOUNT, url);
    expect(created.OpenIDConnectProviderArn).toBe(arn);
    expect(hits.get("/declared-early/.well-known/openid-configuration")).toBeUndefined();

    const got = await admin.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    expect(got.Url).toBe(url.replace("https://", ""));
    expect(got.ClientIDList).toEqual(["sts.amazonaws.com"]);
    expect(got.ThumbprintList ?? []).toEqual([]);
    expect(got.Tags).toEqual([{ Key: "team", Value: "platform" }]);

    await admin.send(new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: "my-app" }));
    await admin.send(new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: "my-app" }));
    await admin.send(new RemoveClientIDFromOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, ClientID: "sts.amazonaws.com" }));
    const thumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
    await admin.send(new UpdateOpenIDConnectProviderThumbprintCommand({ OpenIDConnectProviderArn: arn, ThumbprintList: [thumbprint] }));
    await admin.send(new TagOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, Tags: [{ Key: "env", Value: "prod" }] }));
    await admin.send(new UntagOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn, TagKeys: ["team"] }));
    const changed = await admin.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    expect(changed.ClientIDList).toEqual(["my-app"]);
    expect(changed.ThumbprintList).toEqual([thumbprint]);
    const tags = await admin.send(new ListOpenIDConnectProviderTagsCommand({ OpenIDConnectProviderArn: arn }));
    expect(tags.Tags).toEqual([{ Key: "env", Value: "prod" }]);
    expect((await admin.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList).toContainEqual({ Arn: arn });

    const again = await failure(admin.send(new CreateOpenIDConnectProviderCommand({ Url: url, ClientIDList: ["x"] })));
    expect(again.name).toBe("EntityAlreadyExistsException");
    const plain = await failure(admin.send(new CreateOpenIDConnectProviderCommand({ Url: "http://issuer.example.com", ClientIDList: ["x"] })));
    expect(plain.name).toBe("InvalidInputException");
    const withQuery = await failure(admin.send(new CreateOpenIDConnectProviderCommand({ Url: "https://issuer.example.com/?a=b" })));
    expect(withQuery.name).toBe("InvalidInputException");

    // Another account's root sees nothing of it, as IAM resources are per account.
    const otherRoot = await run.coffer.identity.createAccessKey({ arn: `arn:aws:iam::${OTHER}:root`, accountId: OTHER, kind: "root" });
    const denied = await failure(iam(otherRoot).send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })));
    expect(denied.name).toBe("AccessDenied");
    expect((await iam(otherRoot).send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? []).toEqual([]);

    // A user may do what its policy allows on the provider, and nothing else.
    await admin.send(new CreateUserCommand({ UserName: "oidc-reader" }));
    await admin.send(
      new PutUserPolicyCommand({
        UserName: "oidc-reader",
        PolicyName: "read",
        PolicyDocument: policy({ Effect: "Allow", Action: "iam:GetOpenIDConnectProvider", Resource: arn }),
      }),
    );
    const { AccessKey } = await admin.send(new CreateAccessKeyCommand({ UserName: "oidc-reader" }));
    const reader = iam({ accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! });
    expect((await reader.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }))).ClientIDList).toEqual(["my-app"]);
    expect((await failure(reader.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })))).name).toBe("AccessDenied");
    expect((await failure(reader.send(new ListOpenIDConnectProvidersCommand({})))).name).toBe("AccessDenied");
    // Authorised before looked up: a provider that does not exist is AccessDenied too, for this user.
    const missing = await failure(reader.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: `${arn}-gone` })));
    expect(missing.name).toBe("AccessDenied");

    await admin.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    const gone = await failure(admin.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })));
    expect(gone.name).toBe("NoSuchEntityException");
  });
});

describe("AssumeRoleWithWebIdentity", () => {
  beforeAll(async () => {
    const admin = iam(run.credentials);
    await admin.send(new CreateOpenIDConnectProviderCommand({ Url: issuerA(), ClientIDList: ["sts.amazonaws.com"] }));
    const prefix = issuerA().replace("https://", "");
    await admin.send(
      new CreateRoleCommand({
        RoleName: "k8s-app",
        AssumeRolePolicyDocument: policy({
          Effect: "Allow",
          Principal: { Federated: providerArnOf(ACCOUNT, issuerA()) },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: { StringEquals: { [`${prefix}:sub`]: "system:serviceaccount:prod:app", [`${prefix}:aud`]: "sts.amazonaws.com" } },
        }),
      }),
    );
    await admin.send(
      new PutRolePolicyCommand({
        RoleName: "k8s-app",
        PolicyName: "read-app",
        PolicyDocument: policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/app/*` }),
      }),
    );
    for (const name of ["prod/app/db", "prod/other/db"]) {
      await sm(run.credentials).send(new CreateSecretCommand({ Name: name, SecretString: `value of ${name}` }));
    }
  });

  it("gives a valid token (RS256 or ES256) credentials that read exactly what the role allows, audited with the token's subject", async () => {
    const before = fetches();
    const answer = await assume(await mint({}));
    expect(answer.SubjectFromWebIdentityToken).toBe("system:serviceaccount:prod:app");
    expect(answer.Provider).toBe(providerArnOf(ACCOUNT, issuerA()));
    expect(answer.Audience).toBe("sts.amazonaws.com");
    expect(answer.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/k8s-app/app-pod`);
    expect(answer.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:app-pod$/);
    // The discovery document and the key set, fetched once.
    expect(fetches() - before).toBe(2);

    const creds: Creds = {
      accessKeyId: answer.Credentials!.AccessKeyId!,
      secretAccessKey: answer.Credentials!.SecretAccessKey!,
      sessionToken: answer.Credentials!.SessionToken!,
    };
    const read = await sm(creds).send(new GetSecretValueCommand({ SecretId: "prod/app/db" }));
    expect(read.SecretString).toBe("value of prod/app/db");
    const refused = await failure(sm(creds).send(new GetSecretValueCommand({ SecretId: "prod/other/db" })));
    expect(refused.name).toBe("AccessDeniedException");
    const who = await new STSClient(opts(creds)).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/k8s-app/app-pod`);

    const es = await assume(await mint({}, { key: ec.privateKey, kid: "ec-1", alg: "ES256" }));
    expect(es.SubjectFromWebIdentityToken).toBe("system:serviceaccount:prod:app");
    // Cached keys: no fetch for the second token.
    expect(fetches() - before).toBe(2);

    const trail = new CloudTrailClient(opts(run.credentials));
    const events = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "AssumeRoleWithWebIdentity" }] }));
    const success = events.Events!.map((e) => JSON.parse(e.CloudTrailEvent!)).find((e) => !e.errorCode);
    expect(success.userIdentity).toEqual({
      type: "WebIdentityUser",
      principalId: `${providerArnOf(ACCOUNT, issuerA())}:sts.amazonaws.com:system:serviceaccount:prod:app`,
      userName: "system:serviceaccount:prod:app",
      identityProvider: providerArnOf(ACCOUNT, issuerA()),
    });
    expect(JSON.stringify(success)).not.toContain(answer.Credentials!.SecretAccessKey!);
    expect(JSON.stringify(success)).not.toContain(answer.Credentials!.SessionToken!);
    const reads = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "GetSecretValue" }] }));
    const bySession = reads.Events!.map((e) => JSON.parse(e.CloudTrailEvent!)).find((e) => e.userIdentity.accessKeyId === creds.accessKeyId);
    expect(bySession.userIdentity.sessionContext.webIdFederationData).toEqual({
      federatedProvider: providerArnOf(ACCOUNT, issuerA()),
      attributes: { sub: "system:serviceaccount:prod:app", aud: "sts.amazonaws.com" },
    });
  });

  it("answers each bad token with AWS's error", async () => {
    const cases: [string, Promise<string>, string][] = [
      ["wrong audience", mint({ aud: "someone-else" }), "InvalidIdentityTokenException"],
      ["wrong issuer", mint({ iss: `${base}/not-registered` }), "InvalidIdentityTokenException"],
      ["expired", mint({}, { expiresIn: -300 }), "ExpiredTokenException"],
      ["bad signature", mint({}, { key: stranger.privateKey, kid: "rsa-1" }), "InvalidIdentityTokenException"],
      ["unknown kid", mint({}, { key: stranger.privateKey, kid: "who-knows" }), "InvalidIdentityTokenException"],
      ["sub outside the trust policy", mint({ sub: "system:serviceaccount:prod:intruder" }), "AccessDenied"],
      ["no sub", mint({ sub: undefined }), "IDPRejectedClaimException"],
      ["not yet valid", mint({ nbf: Math.floor(now / 1000) + 3600 }), "InvalidIdentityTokenException"],
      ["issued in the future", mint({ iat: Math.floor(now / 1000) + 3600, exp: Math.floor(now / 1000) + 7200 }), "InvalidIdentityTokenException"],
      ["not a JWT", Promise.resolve("not.a-jwt.at-all"), "InvalidIdentityTokenException"],
    ];
    for (const [what, token, expected] of cases) {
      const err = await failure(assume(await token));
      expect(`${what}: ${err.name}`).toBe(`${what}: ${expected}`);
    }
    const denied = await failure(assume(await mint({ sub: "system:serviceaccount:prod:intruder" })));
    expect(denied.message).toBe("Not authorized to perform sts:AssumeRoleWithWebIdentity");
    expect(denied.$metadata?.httpStatusCode).toBe(403);
    // A missing role reads the same as one that does not trust the token.
    const missing = await failure(assume(await mint({}), { RoleArn: `arn:aws:iam::${ACCOUNT}:role/no-such-role` }));
    expect(missing.message).toBe(denied.message);
  });

  it("refuses alg none and HS256 signed with the issuer's public key", async () => {
    const claims = { iss: issuerA(), aud: "sts.amazonaws.com", sub: "system:serviceaccount:prod:app", exp: Math.floor(now / 1000) + 600 };
    const none = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`;
    expect((await failure(assume(none))).name).toBe("InvalidIdentityTokenException");
    // The classic confusion: the RSA public key (as the issuer publishes it) used as an HMAC secret.
    const { createHmac, createPublicKey } = await import("node:crypto");
    const pem = createPublicKey({ key: (await exportJWK(rsa.publicKey)) as import("node:crypto").JsonWebKey, format: "jwk" }).export({ type: "spki", format: "pem" });
    const head = `${b64url({ alg: "HS256", typ: "JWT", kid: "rsa-1" })}.${b64url(claims)}`;
    const hs = `${head}.${createHmac("sha256", pem).update(head).digest("base64url")}`;
    expect((await failure(assume(hs))).name).toBe("InvalidIdentityTokenException");
  });

  it("refuses a token of another account's provider, even for a role that names that provider", async () => {
    const otherRoot = await run.coffer.identity.createAccessKey({ arn: `arn:aws:iam::${OTHER}:root`, accountId: OTHER, kind: "root" });
    const issuerB = `${base}/cluster-b`;
    await iam(otherRoot).send(new CreateOpenIDConnectProviderCommand({ Url: issuerB, ClientIDList: ["sts.amazonaws.com"] }));
    await iam(run.credentials).send(
      new CreateRoleCommand({
        RoleName: "trusts-other-account",
        AssumeRolePolicyDocument: policy({ Effect: "Allow", Principal: { Federated: providerArnOf(OTHER, issuerB) }, Action: "sts:AssumeRoleWithWebIdentity" }),
      }),
    );
    const err = await failure(assume(await mint({ iss: issuerB }), { RoleArn: `arn:aws:iam::${ACCOUNT}:role/trusts-other-account` }));
    expect(err.name).toBe("InvalidIdentityTokenException");
    expect(err.message).toContain("No OpenIDConnect provider found in your account");
  });

  it("refetches keys for an unknown kid at most once per cooldown, so a rotated key is found and garbage is cheap", async () => {
    await assume(await mint({}));
    const before = fetches();
    for (let i = 0; i < 5; i++) {
      const err = await failure(assume(await mint({}, { key: stranger.privateKey, kid: `garbage-${i}` })));
      expect(err.name).toBe("InvalidIdentityTokenException");
    }
    expect(fetches() - before).toBeLessThanOrEqual(2);
    // The issuer rotates in a new key; after the cooldown a token signed with it verifies.
    servedKeys = [...servedKeys, await publicJwk(rotated.publicKey, "rsa-2", "RS256")];
    now += 31_000;
    const answer = await assume(await mint({}, { key: rotated.privateKey, kid: "rsa-2" }));
    expect(answer.SubjectFromWebIdentityToken).toBe("system:serviceaccount:prod:app");
  });

  it("narrows the session by a session policy passed with the call, as AssumeRole does", async () => {
    const answer = await anonymousSts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/k8s-app`,
        RoleSessionName: "narrowed",
        WebIdentityToken: await mint({}),
        Policy: policy({ Effect: "Allow", Action: "secretsmanager:DescribeSecret", Resource: "*" }),
        DurationSeconds: 900,
      }),
    );
    expect(answer.PackedPolicySize).toBeGreaterThan(0);
    const expires = answer.Credentials!.Expiration!.getTime();
    expect(Math.abs(expires - (now + 900_000))).toBeLessThan(2000);
    const creds: Creds = {
      accessKeyId: answer.Credentials!.AccessKeyId!,
      secretAccessKey: answer.Credentials!.SecretAccessKey!,
      sessionToken: answer.Credentials!.SessionToken!,
    };
    // The role allows the read, the session policy does not: denied.
    const err = await failure(sm(creds).send(new GetSecretValueCommand({ SecretId: "prod/app/db" })));
    expect(err.name).toBe("AccessDeniedException");
  });

  it("carries the token's session tags (AWS's tags claim) into aws:PrincipalTag, only where the trust policy allows sts:TagSession", async () => {
    const admin = iam(run.credentials);
    const prefix = issuerA().replace("https://", "");
    const federated = {
      Effect: "Allow",
      Principal: { Federated: providerArnOf(ACCOUNT, issuerA()) },
      Action: "sts:AssumeRoleWithWebIdentity",
      Condition: { StringEquals: { [`${prefix}:sub`]: "system:serviceaccount:prod:app" } },
    };
    await admin.send(new CreateRoleCommand({ RoleName: "by-team", AssumeRolePolicyDocument: policy(federated) }));
    const paymentsOnly = policy({
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: "*",
      Condition: { StringEquals: { "aws:PrincipalTag/team": "payments" } },
    });
    await admin.send(new PutRolePolicyCommand({ RoleName: "by-team", PolicyName: "payments-only", PolicyDocument: paymentsOnly }));
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/by-team`;
    const tagged = (team: string, transitive?: string[]) =>
      mint({ "https://aws.amazon.com/tags": { principal_tags: { team: [team] }, ...(transitive ? { transitive_tag_keys: transitive } : {}) } });
    const session = async (token: string): Promise<Creds> => {
      const c = (await assume(token, { RoleArn: roleArn })).Credentials!;
      return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    };

    // Without sts:TagSession in the trust policy a token with tags is refused; one without is not.
    expect((await failure(assume(await tagged("payments"), { RoleArn: roleArn }))).name).toBe("AccessDenied");
    const untagged = await session(await mint({}));
    expect((await failure(sm(untagged).send(new GetSecretValueCommand({ SecretId: "prod/app/db" })))).name).toBe("AccessDeniedException");

    // Allowed for the teams the trust policy names (aws:RequestTag/team), the tag decides what the session reads.
    await admin.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: "by-team",
        PolicyDocument: policy(federated, {
          ...federated,
          Action: "sts:TagSession",
          Condition: { StringEquals: { "aws:RequestTag/team": ["payments", "ledger"] } },
        }),
      }),
    );
    const payments = await session(await tagged("payments", ["team"]));
    expect((await sm(payments).send(new GetSecretValueCommand({ SecretId: "prod/app/db" }))).SecretString).toBe("value of prod/app/db");
    // CloudTrail records the tags with the request's parameters, as AWS does.
    const trail = new CloudTrailClient(opts(run.credentials));
    const lookup = new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "AssumeRoleWithWebIdentity" }] });
    const recorded = (await trail.send(lookup)).Events!.map((e) => JSON.parse(e.CloudTrailEvent!)).find((e) => e.requestParameters?.principalTags);
    expect(recorded.requestParameters).toMatchObject({ roleArn, principalTags: { team: "payments" }, transitiveTagKeys: ["team"] });
    expect(recorded.errorCode).toBeUndefined();
    const ledger = await session(await tagged("ledger"));
    expect((await failure(sm(ledger).send(new GetSecretValueCommand({ SecretId: "prod/app/db" })))).name).toBe("AccessDeniedException");
    expect((await failure(assume(await tagged("intruders"), { RoleArn: roleArn }))).name).toBe("AccessDenied");

    // A transitive tag passes on when the session assumes another role, and may not be overridden there.
    await admin.send(
      new CreateRoleCommand({
        RoleName: "next-hop",
        AssumeRolePolicyDocument: policy({ Effect: "Allow", Principal: { AWS: roleArn }, Action: ["sts:AssumeRole", "sts:TagSession"] }),
      }),
    );
    await admin.send(new PutRolePolicyCommand({ RoleName: "next-hop", PolicyName: "payments-only", PolicyDocument: paymentsOnly }));
    const mayHop = policy({ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" });
    await admin.send(new PutRolePolicyCommand({ RoleName: "by-team", PolicyName: "hop", PolicyDocument: mayHop }));
    const hopArn = `arn:aws:iam::${ACCOUNT}:role/next-hop`;
    const hop = (await new STSClient(opts(payments)).send(new AssumeRoleCommand({ RoleArn: hopArn, RoleSessionName: "hop" }))).Credentials!;
    const hopped = { accessKeyId: hop.AccessKeyId!, secretAccessKey: hop.SecretAccessKey!, sessionToken: hop.SessionToken! };
    expect((await sm(hopped).send(new GetSecretValueCommand({ SecretId: "prod/app/db" }))).SecretString).toBe("value of prod/app/db");
    const override = new AssumeRoleCommand({ RoleArn: hopArn, RoleSessionName: "hop", Tags: [{ Key: "team", Value: "ledger" }] });
    expect((await failure(new STSClient(opts(payments)).send(override))).name).toBe("InvalidParameterValue");

    // A claim that is not AWS's shape is an invalid token, never a session without its tags.
    const malformed: [string, unknown][] = [
      ["two values", { principal_tags: { team: ["payments", "ledger"] } }],
      ["not an object", ["team", "payments"]],
      ["a key STS refuses", { principal_tags: { "team!": ["payments"] } }],
      ["too many", { principal_tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, ["v"]])) }],
      ["transitive keys not a list", { principal_tags: { team: ["payments"] }, transitive_tag_keys: "team" }],
    ];
    for (const [what, claim] of malformed) {
      const err = await failure(assume(await mint({ "https://aws.amazon.com/tags": claim }), { RoleArn: roleArn }));
      expect(`${what}: ${err.name}`).toBe(`${what}: InvalidIdentityTokenException`);
    }
    const undeclaredKey = { principal_tags: { team: ["payments"] }, transitive_tag_keys: ["cost"] };
    const undeclared = await failure(assume(await mint({ "https://aws.amazon.com/tags": undeclaredKey }), { RoleArn: roleArn }));
    expect(undeclared.name).toBe("InvalidParameterValue");
  });

  it("carries the token's source identity claim through the session, where the trust policy allows sts:SetSourceIdentity", async () => {
    const claim = (value: unknown) => mint({ "https://aws.amazon.com/source_identity": value });
    // k8s-app's trust policy has no sts:SetSourceIdentity.
    expect((await failure(assume(await claim("alice")))).name).toBe("AccessDenied");
    const admin = iam(run.credentials);
    await admin.send(
      new CreateRoleCommand({
        RoleName: "traced",
        AssumeRolePolicyDocument: policy({
          Effect: "Allow",
          Principal: { Federated: providerArnOf(ACCOUNT, issuerA()) },
          Action: ["sts:AssumeRoleWithWebIdentity", "sts:SetSourceIdentity"],
          Condition: { StringLike: { "sts:SourceIdentity": "*@example.com" } },
        }),
      }),
    );
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/traced`;
    const answer = await assume(await claim("alice@example.com"), { RoleArn: roleArn });
    expect(answer.SourceIdentity).toBe("alice@example.com");
    expect((await failure(assume(await claim("bob@elsewhere.org"), { RoleArn: roleArn }))).name).toBe("AccessDenied");
    for (const bad of ["a", "has space", "aws:x", 42]) {
      expect((await failure(assume(await claim(bad), { RoleArn: roleArn }))).name).toBe("InvalidIdentityTokenException");
    }
  });

  it("refuses DurationSeconds beyond the role's MaxSessionDuration and an oversized token", async () => {
    const long = await failure(assume(await mint({}), { DurationSeconds: 7200 }));
    expect(long.name).toBe("ValidationError");
    const huge = await failure(assume(`${await mint({})}${"A".repeat(20_001)}`));
    expect(huge.name).toBe("ValidationError");
  });

  it("never fetches keys from an address the operator did not allow", async () => {
    // 127.0.0.2 reaches the same issuer, but only 127.0.0.1 is allowed (oidcAllowedNetworks).
    const internal = `https://127.0.0.2:${new URL(base).port}/internal`;
    await iam(run.credentials).send(new CreateOpenIDConnectProviderCommand({ Url: internal, ClientIDList: ["sts.amazonaws.com"] }));
    await iam(run.credentials).send(
      new CreateRoleCommand({
        RoleName: "internal",
        AssumeRolePolicyDocument: policy({ Effect: "Allow", Principal: { Federated: providerArnOf(ACCOUNT, internal) }, Action: "sts:AssumeRoleWithWebIdentity" }),
      }),
    );
    const err = await failure(assume(await mint({ iss: internal }), { RoleArn: `arn:aws:iam::${ACCOUNT}:role/internal` }));
    expect(err.name).toBe("IDPCommunicationErrorException");
    expect(hits.get("/internal/.well-known/openid-configuration")).toBeUndefined();
  });

  it("serves a Kubernetes projected service-account token through the SDK's default credential chain (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)", async () => {
    const iat = Math.floor(now / 1000);
    const token = await mint({
      aud: ["sts.amazonaws.com"],
      sub: "system:serviceaccount:prod:app",
      nbf: iat,
      "kubernetes.io": { namespace: "prod", serviceaccount: { name: "app", uid: "0f6c1a4e-3c1d-4e0e-9d5c-1b1f7a3a9b2c" }, pod: { name: "app-7d9c", uid: "5e0f" } },
    });
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, token);
    const saved = { ...process.env };
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]) delete process.env[name];
    Object.assign(process.env, {
      AWS_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/k8s-app`,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_SESSION_NAME: "pod-session",
      AWS_ENDPOINT_URL_STS: run.url,
      AWS_REGION: "us-east-1",
      AWS_CONFIG_FILE: join(dir, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
    });
    try {
      // No credentials given: the client finds them as an application in a pod would.
      const client = new SecretsManagerClient({ endpoint: run.url, region: "us-east-1", maxAttempts: 1, systemClockOffset: now - Date.now() });
      const read = await client.send(new GetSecretValueCommand({ SecretId: "prod/app/db" }));
      expect(read.SecretString).toBe("value of prod/app/db");
      const refused = await failure(client.send(new GetSecretValueCommand({ SecretId: "prod/other/db" })));
      expect(refused.name).toBe("AccessDeniedException");
      const who = await new STSClient({ endpoint: run.url, region: "us-east-1", maxAttempts: 1, systemClockOffset: now - Date.now() }).send(
        new GetCallerIdentityCommand({}),
      );
      expect(who.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/k8s-app/pod-session`);
    } finally {
      process.env = saved;
    }
  });

  it("verifies an air-gapped issuer's tokens against keys given inline (Coffer extension), never fetching", async () => {
    const airGapped = "https://kubernetes.default.svc.cluster.local";
    const arn = providerArnOf(ACCOUNT, airGapped);
    await iam(run.credentials).send(new CreateOpenIDConnectProviderCommand({ Url: airGapped, ClientIDList: ["sts.amazonaws.com"] }));
    await iam(run.credentials).send(
      new CreateRoleCommand({
        RoleName: "air-gapped",
        AssumeRolePolicyDocument: policy({
          Effect: "Allow",
          Principal: { Federated: arn },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: { StringLike: { "kubernetes.default.svc.cluster.local:sub": "system:serviceaccount:prod:*" } },
        }),
      }),
    );
    const admin = (operation: string, body: object, credentials: Creds = run.credentials) =>
      rawCall(run.url, { target: `Coffer.${operation}`, body: JSON.stringify(body), credentials, service: "coffer" });
    const keys = JSON.stringify({ keys: [await publicJwk(ec.publicKey, "cluster-key", "ES256")] });
    const token = () => mint({ iss: airGapped }, { key: ec.privateKey, kid: "cluster-key", alg: "ES256" });
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/air-gapped`;

    // Before keys are given, the issuer is unreachable: IDPCommunicationError.
    expect((await failure(assume(await token(), { RoleArn: roleArn }))).name).toBe("IDPCommunicationErrorException");

    const privateKey = JSON.stringify({ keys: [await exportJWK(ec.privateKey)] });
    const refusedPrivate = await admin("PutOpenIDConnectProviderKeys", { OpenIDConnectProviderArn: arn, Keys: privateKey });
    expect(refusedPrivate.status).toBe(400);
    expect(refusedPrivate.body).not.toContain((await exportJWK(ec.privateKey)).d!);
    const otherRoot = await run.coffer.identity.createAccessKey({ arn: `arn:aws:iam::${OTHER}:root`, accountId: OTHER, kind: "root" });
    expect((await admin("PutOpenIDConnectProviderKeys", { OpenIDConnectProviderArn: arn, Keys: keys }, otherRoot)).json().__type).toBe("AccessDeniedException");

    expect((await admin("PutOpenIDConnectProviderKeys", { OpenIDConnectProviderArn: arn, Keys: keys })).status).toBe(200);
    expect((await admin("GetOpenIDConnectProviderKeys", { OpenIDConnectProviderArn: arn })).json().Keys).toBe(keys);
    const answer = await assume(await token(), { RoleArn: roleArn });
    expect(answer.Provider).toBe(arn);
    // A key the inline set lacks is not looked for anywhere.
    const stray = await failure(assume(await mint({ iss: airGapped }, { key: rsa.privateKey, kid: "rsa-1" }), { RoleArn: roleArn }));
    expect(stray.name).toBe("InvalidIdentityTokenException");

    expect((await admin("PutOpenIDConnectProviderKeys", { OpenIDConnectProviderArn: arn })).status).toBe(200);
    expect((await failure(assume(await token(), { RoleArn: roleArn }))).name).toBe("IDPCommunicationErrorException");

    // The operator's way, on the data directory beside the running server: `coffer oidc-keys put`.
    writeFileSync(join(dir, "cluster-jwks.json"), keys);
    const where = ["--data-dir", run.dataDir, ...(run.databaseUrl ? ["--database-url", run.databaseUrl] : [])];
    const put = await finished(coffer(["oidc-keys", "put", arn, join(dir, "cluster-jwks.json"), ...where], { PATH: process.env.PATH, HOME: dir }));
    expect(put.stderr).toBe("");
    expect(put.code).toBe(0);
    expect((await assume(await token(), { RoleArn: roleArn })).SubjectFromWebIdentityToken).toBe("system:serviceaccount:prod:app");
  });
});
