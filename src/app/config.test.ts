import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, unknownEnvironmentVariables } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "coffer-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadConfig", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({}, {});
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 4599,
      dataDir: resolve(".coffer"),
      region: "us-east-1",
      accountId: "000000000000",
      tls: "off",
      logLevel: "info",
      bodyLimit: 1048576,
    });
    expect(c.masterKeyFile).toBe(join(resolve(".coffer"), "master.key"));
  });

  it("takes flags over environment over file over defaults", () => {
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ port: 1111, region: "eu-west-1", host: "0.0.0.0", accountId: "111122223333" }));
    const env = { COFFER_PORT: "2222", COFFER_REGION: "eu-central-1" };
    const c = loadConfig({ config: file, port: "3333" }, env);
    expect(c.port).toBe(3333);
    expect(c.region).toBe("eu-central-1");
    expect(c.host).toBe("0.0.0.0");
    expect(c.accountId).toBe("111122223333");
  });

  it("turns TLS on with a certificate pair or auto", () => {
    expect(loadConfig({ tlsCert: "c.pem", tlsKey: "k.pem" }, {}).tls).toBe("files");
    expect(loadConfig({ tls: "auto" }, {}).tls).toBe("auto");
    expect(() => loadConfig({ tlsCert: "c.pem" }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ tls: "sometimes" }, {})).toThrow(ConfigError);
  });

  it("refuses bad values with a clear message", () => {
    expect(() => loadConfig({ port: "70000" }, {})).toThrow(/port/);
    expect(() => loadConfig({ accountId: "12" }, {})).toThrow(/12 digits/);
    expect(() => loadConfig({ region: "Mars" }, {})).toThrow(/region/);
    expect(() => loadConfig({}, { COFFER_MASTER_KEY: "a", COFFER_MASTER_PASSPHRASE: "b" })).toThrow(/not several/);
    expect(() => loadConfig({ config: join(dir, "missing.json") }, {})).toThrow(ConfigError);
  });

  it("allows no internal webhook networks by default, and takes CIDRs from the environment or the file", () => {
    expect(loadConfig({}, {}).webhookAllowedNetworks).toEqual([]);
    expect(loadConfig({}, { COFFER_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8, ::1/128" }).webhookAllowedNetworks).toEqual(["127.0.0.0/8", "::1/128"]);
    const file = join(dir, "networks.json");
    writeFileSync(file, JSON.stringify({ webhookAllowedNetworks: ["10.1.0.0/16"] }));
    expect(loadConfig({ config: file }, {}).webhookAllowedNetworks).toEqual(["10.1.0.0/16"]);
    expect(() => loadConfig({}, { COFFER_WEBHOOK_ALLOWED_NETWORKS: "10.0.0.0/33" })).toThrow(/webhookAllowedNetworks/);
    expect(() => loadConfig({}, { COFFER_WEBHOOK_ALLOWED_NETWORKS: "intranet" })).toThrow(ConfigError);
    expect(loadConfig({}, { COFFER_ROTATION_STEP_TIMEOUT_SECONDS: "5" }).rotationStepTimeoutSeconds).toBe(5);
    expect(() => loadConfig({}, { COFFER_ROTATION_STEP_TIMEOUT_SECONDS: "0" })).toThrow(/step timeout/);
  });

  it("refuses an unknown config file key, naming the nearest valid one", () => {
    const file = join(dir, "typo.json");
    writeFileSync(file, JSON.stringify({ prot: 1234, region: "eu-west-1" }));
    expect(() => loadConfig({ config: file }, {})).toThrow(/Unknown setting "prot": did you mean "port"\?/);
    writeFileSync(file, JSON.stringify({ completelyDifferent: true }));
    expect(() => loadConfig({ config: file }, {})).toThrow(/Unknown setting "completelyDifferent"; valid ones: host, port/);
  });

  it("refuses a log level pino does not have", () => {
    expect(() => loadConfig({ logLevel: "verbose" }, {})).toThrow(/Invalid log level "verbose": use one of .*debug/);
    expect(loadConfig({}, { COFFER_LOG_LEVEL: "debug" }).logLevel).toBe("debug");
  });

  it("names unknown COFFER_ variables with the nearest known one", () => {
    const warnings = unknownEnvironmentVariables({ COFFER_PROT: "1", COFFER_PORT: "2", HOME: "/root", COFFER_ZZZZZZZZZZZZZZZ: "x" });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/Unknown environment variable "COFFER_PROT": did you mean "COFFER_PORT"\? It is ignored\./);
    expect(warnings[1]).toMatch(/COFFER_ZZZZZZZZZZZZZZZ/);
  });
});
