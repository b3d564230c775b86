/**
 * A throwaway PostgreSQL cluster with password authentication, for tests
 * that must see a password change: the machine's own PostgreSQL trusts local
 * connections, so a wrong password would log in there too.
 *
 * startPgCluster(): initdb --auth=scram-sha-256 into a fresh temp directory
 * (owned by the `postgres` OS user when we run as root, since PostgreSQL
 * refuses to run as root), listening only on 127.0.0.1 at a free port with
 * its socket in that directory, started with `pg_ctl -w`. stop() stops it
 * (immediate) and removes the directory; a process exit stops it too.
 * Durability is off (fsync etc.): the data is thrown away anyway.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { chmod, chown, mkdtemp, rm, writeFile, appendFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface PgCluster {
  host: string;
  port: number;
  superuser: { user: string; password: string };
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

interface Tools {
  bindir: string;
  /** Runs a binary from bindir as the cluster's OS user. */
  asOwner: (file: string, args: string[]) => [string, string[]];
  owner?: { uid: number; gid: number };
}

/** Why a cluster can't be started here, or undefined if it probably can. */
export function pgClusterUnavailableReason(): string | undefined {
  try {
    findTools();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function findBindir(): string | undefined {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
  } catch {
    // no pg_config
  }
  try {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not a Debian layout
  }
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir) candidates.push(dir);
  return candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
}

function findTools(): Tools {
  const bindir = findBindir();
  if (!bindir) throw new Error("PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config, /usr/lib/postgresql/*/bin or PATH");
  if (userInfo().uid !== 0) {
    return { bindir, asOwner: (file, args) => [join(bindir, file), args] };
  }
  // PostgreSQL will not run as root: run it as the postgres OS user.
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  } catch {
    throw new Error("running as root and there is no 'postgres' OS user to run PostgreSQL as");
  }
  const runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].find((p) => existsSync(p));
  if (runuser) return { bindir, owner: { uid, gid }, asOwner: (file, args) => [runuser, ["-u", "postgres", "--", join(bindir, file), ...args]] };
  return {
    bindir,
    owner: { uid, gid },
    asOwner: (file, args) => ["su", ["postgres", "-s", "/bin/sh", "-c", [join(bindir, file), ...args].map(shellQuote).join(" ")]],
  };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startPgCluster(): Promise<PgCluster> {
  const tools = findTools();
  const dir = await mkdtemp(join(tmpdir(), "coffer-pg-"));
  const dataDir = join(dir, "data");
  const pwfile = join(dir, "pwfile");
  const logFile = join(dir, "server.log");
  const password = randomBytes(18).toString("base64url");
  const run = async (file: string, args: string[]): Promise<void> => {
    const [cmd, argv] = tools.asOwner(file, args);
    try {
      await execFileAsync(cmd, argv, { cwd: dir, timeout: 60_000 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${file} failed: ${(e.stderr || e.stdout || e.message).trim().slice(0, 2000)}`);
    }
  };

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    try {
      const [cmd, argv] = tools.asOwner("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      execFileSync(cmd, argv, { stdio: "ignore", timeout: 30_000 });
    } catch {
      // not running
    }
  };
  const onExit = () => {
    stopSync();
    try {
      execFileSync("rm", ["-rf", dir], { stdio: "ignore" });
    } catch {
      // best effort
    }
  };

  try {
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (tools.owner) {
      await chown(dir, tools.owner.uid, tools.owner.gid);
      await chown(pwfile, tools.owner.uid, tools.owner.gid);
    }
    await chmod(dir, 0o700);
    await run("initdb", [
      "-D", dataDir,
      "--auth=scram-sha-256",
      "--username=postgres",
      `--pwfile=${pwfile}`,
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ]);
    await rm(pwfile, { force: true });

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await appendFile(
        join(dataDir, "postgresql.conf"),
        [
          "",
          "# coffer test cluster",
          "listen_addresses = '127.0.0.1'",
          `port = ${port}`,
          `unix_socket_directories = '${dir}'`,
          "password_encryption = 'scram-sha-256'",
          "fsync = off",
          "synchronous_commit = off",
          "full_page_writes = off",
          "max_connections = 50",
          "shared_buffers = 16MB",
          "",
        ].join("\n"),
      );
      try {
        await run("pg_ctl", ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"]);
        break;
      } catch (err) {
        // Someone took the port between our probe and the server's bind: try another.
        if (attempt >= 3) throw err;
      }
    }
    process.once("exit", onExit);
    return {
      host: "127.0.0.1",
      port,
      superuser: { user: "postgres", password },
      async stop() {
        process.removeListener("exit", onExit);
        if (!stopped) {
          stopped = true;
          await run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => {});
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    onExit();
    throw err;
  }
}
