import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { spawnServer } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

/**
 * The files of deploy/ and the Dockerfile, checked as far as this machine
 * can: no Docker engine and no Kubernetes API server run here, so the image
 * is not built and the manifests are not applied. What is checked: the
 * health check script against a real server; the systemd unit with
 * systemd-analyze (verify, and its offline security score); the YAML parses
 * (PyYAML, when present) into the objects and settings Coffer expects; every
 * COFFER_* variable they set is one Coffer reads; every file the Dockerfile
 * copies from the build context exists and is not excluded by .dockerignore.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const deploy = join(root, "deploy");
const { tempDir, track } = spawnedCleanup("coffer-deploy-");
const configSource = readFileSync(join(root, "src", "app", "config.ts"), "utf8");

function has(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const pyyaml = has("python3", ["-c", "import yaml"]);
if (!pyyaml) console.warn("Skipping the YAML checks of deploy/: python3 with PyYAML is not installed.");

/** Every document of a YAML file, as JSON (through PyYAML: no YAML parser among the project's dependencies). */
function yamlDocuments(file: string): Record<string, any>[] {
  const script = "import json,sys,yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))";
  return JSON.parse(execFileSync("python3", ["-c", script, file], { encoding: "utf8" })) as Record<string, any>[];
}

/** Each COFFER_* name a file sets must be a setting of src/app/config.ts. */
function expectKnownSettings(names: string[]): void {
  expect(names.length).toBeGreaterThan(0);
  for (const name of names.filter((n) => n.startsWith("COFFER_"))) expect(configSource, name).toContain(`"${name}"`);
}

it("deploy/healthcheck.mjs exits 0 while the server is ready, 1 when nothing answers", async () => {
  const server = track(await spawnServer(["--data-dir", tempDir(), "--log-level", "warn"]));
  const port = new URL(server.url).port;
  const check = (p: string) =>
    run(process.execPath, [join(deploy, "healthcheck.mjs")], { env: { ...process.env, COFFER_PORT: p } }).then(
      () => 0,
      (err: { code: number }) => err.code,
    );
  expect(await check(port)).toBe(0);
  server.child.kill("SIGKILL");
  await server.exited;
  expect(await check(port)).toBe(1);
});

describe.runIf(has("systemd-analyze", ["--version"]))("deploy/systemd/coffer.service", () => {
  const unit = join(deploy, "systemd", "coffer.service");

  it("passes systemd-analyze verify (ExecStart pointed at a program that exists here)", async () => {
    const copy = join(tempDir(), "coffer.service");
    writeFileSync(copy, readFileSync(unit, "utf8").replace("/usr/local/bin/coffer", process.execPath));
    const { stdout, stderr } = await run("systemd-analyze", ["verify", copy]);
    expect(stdout + stderr).toBe("");
  });

  it("is hardened: systemd's offline exposure score is at most 2 of 10", async () => {
    // Exits non-zero above the threshold.
    await run("systemd-analyze", ["security", "--offline=true", "--threshold=20", unit]);
    const text = readFileSync(unit, "utf8");
    expect(text).toMatch(/^User=coffer$/m);
    expect(text).toMatch(/^LimitCORE=0$/m);
    expectKnownSettings([...text.matchAll(/\b(COFFER_[A-Z_]+)=/g)].map((m) => m[1]));
  });
});

describe.runIf(pyyaml)("YAML of deploy/", () => {
  it("docker-compose.yml: Coffer built from this repository on PostgreSQL, through COFFER_DATABASE_URL", () => {
    const [compose] = yamlDocuments(join(deploy, "docker-compose.yml"));
    const coffer = compose.services.coffer;
    expect(existsSync(join(deploy, coffer.build.context, coffer.build.dockerfile))).toBe(true);
    expect(coffer.environment.COFFER_DATABASE_URL).toMatch(/^postgres:\/\/coffer:\$\{POSTGRES_PASSWORD\}@postgres:5432\/coffer$/);
    expect(coffer.depends_on.postgres.condition).toBe("service_healthy");
    expect(coffer.read_only).toBe(true);
    expect(compose.services.postgres.image).toMatch(/^postgres:/);
    expectKnownSettings(Object.keys(coffer.environment));
  });

  it("kubernetes: a one-replica StatefulSet for SQLite, a Deployment for PostgreSQL, both non-root with /health and /ready probes", () => {
    const files = readdirSync(join(deploy, "kubernetes")).filter((f) => f.endsWith(".yaml"));
    expect(files.sort()).toEqual(["postgres-deployment.yaml", "sqlite-statefulset.yaml"]);
    const workloads = files.flatMap((f) => yamlDocuments(join(deploy, "kubernetes", f))).filter((d) => ["StatefulSet", "Deployment"].includes(d.kind));
    expect(workloads.map((w) => w.kind).sort()).toEqual(["Deployment", "StatefulSet"]);
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      const [container] = pod.containers;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(container.livenessProbe.httpGet.path).toBe("/health");
      expect(container.readinessProbe.httpGet.path).toBe("/ready");
      expect(container.ports[0].containerPort).toBe(4599);
      // The master key comes from a Secret, never from the manifest.
      const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
      expect(env.COFFER_MASTER_KEY.valueFrom.secretKeyRef).toBeDefined();
      expectKnownSettings(Object.keys(env));
      const mounts = container.volumeMounts.map((m: { mountPath: string }) => m.mountPath);
      expect(mounts).toContain("/var/lib/coffer");
      if (w.kind === "StatefulSet") {
        expect(w.spec.replicas).toBe(1);
        expect(w.spec.volumeClaimTemplates[0].metadata.name).toBe("data");
        expect(env.COFFER_DATABASE_URL).toBeUndefined();
      } else {
        expect(env.COFFER_DATABASE_URL.valueFrom.secretKeyRef).toBeDefined();
      }
    }
  });
});

it("Dockerfile: multi-stage, non-root, a volume, a health check, and every file it copies is in the build context", () => {
  const text = readFileSync(join(root, "Dockerfile"), "utf8");
  expect(text.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
  expect(text).toMatch(/^USER 10001:10001$/m);
  expect(text).toMatch(/^VOLUME \["\/var\/lib\/coffer"\]$/m);
  expect(text).toMatch(/^HEALTHCHECK .*deploy\/healthcheck\.mjs/m);
  const ignore = readFileSync(join(root, ".dockerignore"), "utf8").split("\n").filter((l) => l.startsWith("!"));
  const copied = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(" "));
  expect(copied).toContain("src");
  for (const path of copied) {
    expect(existsSync(join(root, path)), path).toBe(true);
    // Everything is excluded but what .dockerignore lets in again.
    expect(ignore.some((l) => l === `!${path}` || l === `!${path}/`), `${path} in .dockerignore`).toBe(true);
  }
});
