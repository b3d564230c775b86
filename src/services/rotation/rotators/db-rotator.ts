/**
 * The engine-independent half of the AWS rotation templates
 * (SecretsManagerRDS{PostgreSQL,MySQL,MariaDB}Rotation{SingleUser,MultiUser}).
 * postgres.ts and mysql.ts supply a DbDriver (how to log in, how to set a
 * password, how to clone a user); this file owns the four steps, and
 * db-secret.ts the JSON shape, so the engines cannot drift apart in the parts
 * AWS defines.
 *
 * Invariants (see also the notes on each function):
 * - A password never appears in an error message. Messages built here name
 *   fields, not values; whatever a database or driver says is passed through
 *   scrubSecrets() with every password the step has read; errors carry no
 *   `cause` (drivers keep the SQL text, with the password, on their errors).
 * - A step may run again after a crash or a failure and then changes nothing
 *   that is already right.
 * - AWSCURRENT moves only in finishSecret, after testSecret logged in with the
 *   pending credentials; a failed step leaves the current credentials working.
 */
import type { RotationEvent, RotationSecrets, RotationStep, Rotator } from "../rotation-types.ts";
import { CofferError, isCofferError } from "../../../shared/errors.ts";
import {
  DB_PASSWORD_EXCLUDE_CHARACTERS,
  DB_PASSWORD_LENGTH,
  alternateUsername,
  baseUsername,
  parseDbSecret,
  scrubSecrets,
  type DbEngine,
  type DbSecret,
} from "./db-secret.ts";

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map((e) => messageOf(e)).join("; ");
  }
  if (err instanceof Error) {
    if (err.message) return err.message;
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? code : err.name;
  }
  return String(err);
}

// ---------------------------------------------------------------------------
// Drivers

/** An open, logged-in connection. close() never rejects. */
export interface DbSession {
  close(): Promise<void>;
}

/** What an engine module supplies; every method may reject with a driver error (scrubbed by the caller). */
export interface DbDriver<S extends DbSession> {
  /** Engines the driver serves, e.g. ["mysql", "mariadb"]. */
  readonly engines: readonly DbEngine[];
  /** The longest user name the engine accepts. */
  maxUsernameLength(engine: DbEngine): { max: number; bytes: boolean };
  /** Logs in with the secret's credentials; rejects if refused or unreachable within the connect timeout. */
  connect(secret: DbSecret): Promise<S>;
  /** Single user: `session` is logged in as `user.username`; make `user.password` its password. */
  setOwnPassword(session: S, user: DbSecret): Promise<void>;
  /**
   * Alternating users: `session` is the master's. If `pending.username` is the
   * clone of `base`, create it when missing and give it `base`'s privileges;
   * then make `pending.password` the password of `pending.username`.
   * Idempotent: a crash half-way is repaired by calling it again.
   */
  setUserPassword(session: S, base: string, pending: DbSecret): Promise<void>;
  /** Checks a session opened with the pending credentials runs queries as the pending user. */
  test(session: S, pending: DbSecret): Promise<void>;
}

/**
 * Opens a session honouring `secret.ssl`: true -> TLS only; false -> plain
 * only; undefined -> TLS first and, if TLS itself failed (server without TLS,
 * certificate not trusted, TLS refused by the server's rules), plain text, as
 * the templates do. A refused password is not retried.
 */
export async function connectHonouringSsl<S>(
  secret: DbSecret,
  open: (tls: boolean) => Promise<S>,
  isTlsFailure: (err: unknown) => boolean,
): Promise<S> {
  if (secret.ssl !== undefined) return open(secret.ssl);
  try {
    return await open(true);
  } catch (err) {
    if (!isTlsFailure(err)) throw err;
    return open(false);
  }
}

/** Runs `use` on a fresh session and closes it whatever happens. */
export async function withSession<S extends DbSession, T>(driver: DbDriver<S>, secret: DbSecret, use: (session: S) => Promise<T>): Promise<T> {
  const session = await driver.connect(secret);
  try {
    return await use(session);
  } finally {
    await session.close();
  }
}

// ---------------------------------------------------------------------------
// The four steps

export type DbStrategy = "singleUser" | "alternatingUsers";

export interface DbRotators {
  /** Changes the password of the user in the secret (old credentials stop working at setSecret). */
  singleUser(): Rotator;
  /** Alternates between `<user>` and `<user>_clone` through the master secret named by `masterarn`. */
  alternatingUsers(): Rotator;
}

export function createDbRotators<S extends DbSession>(driver: DbDriver<S>): DbRotators {
  return {
    singleUser: () => createDbRotator(driver, "singleUser"),
    alternatingUsers: () => createDbRotator(driver, "alternatingUsers"),
  };
}

export function createDbRotator<S extends DbSession>(driver: DbDriver<S>, strategy: DbStrategy): Rotator {
  return {
    step: (event, secrets) => new StepRun(driver, strategy, event, secrets).run(),
  };
}

const CURRENT = "AWSCURRENT";
const PENDING = "AWSPENDING";
const PREVIOUS = "AWSPREVIOUS";

class StepRun<S extends DbSession> {
  /** Every password this step has read, to mask in whatever leaves it. */
  private readonly passwords = new Set<string>();
  private readonly token: string;
  private readonly secretId: string;
  private readonly step: RotationStep;

  constructor(
    private readonly driver: DbDriver<S>,
    private readonly strategy: DbStrategy,
    event: RotationEvent,
    private readonly secrets: RotationSecrets,
  ) {
    this.token = event.ClientRequestToken;
    this.secretId = event.SecretId;
    this.step = event.Step;
  }

  async run(): Promise<void> {
    try {
      if (!(await this.needsStep())) return;
      switch (this.step) {
        case "createSecret":
          return await this.createSecret();
        case "setSecret":
          return await (this.strategy === "singleUser" ? this.setSingleUser() : this.setAlternating());
        case "testSecret":
          return await this.testSecret();
        case "finishSecret":
          return await this.finishSecret();
        default:
          throw new CofferError("InvalidParameter", `Unknown rotation step "${String(this.step)}".`);
      }
    } catch (err) {
      throw this.toStepError(err);
    }
  }

  /** The templates' handler check: the token must be a version in rotation; once it is AWSCURRENT there is nothing left to do. */
  private async needsStep(): Promise<boolean> {
    const { versionStages } = await this.secrets.describe(this.secretId);
    const stages = versionStages[this.token];
    if (!stages) throw new CofferError("InvalidRequest", `Secret version ${this.token} has no stage for rotation of the secret.`);
    if (stages.includes(CURRENT)) return false;
    if (!stages.includes(PENDING)) throw new CofferError("InvalidRequest", `Secret version ${this.token} is not set as AWSPENDING for rotation.`);
    return true;
  }

  private async createSecret(): Promise<void> {
    const current = await this.read(this.secretId, { versionStage: CURRENT }, "The AWSCURRENT version of the secret");
    try {
      await this.secrets.getValue(this.secretId, { versionId: this.token, versionStage: PENDING });
      return; // an earlier run already generated it
    } catch (err) {
      if (!(isCofferError(err) && err.code === "NotFound")) throw err;
    }
    const fields: Record<string, unknown> = { ...current.fields };
    if (this.strategy === "alternatingUsers") {
      this.master(current);
      const limit = this.driver.maxUsernameLength(current.engine);
      fields.username = alternateUsername(current.username, limit.max, limit.bytes);
    }
    const password = await this.secrets.randomPassword({ length: DB_PASSWORD_LENGTH, excludeCharacters: DB_PASSWORD_EXCLUDE_CHARACTERS });
    this.passwords.add(password);
    fields.password = password;
    await this.secrets.putPending(this.secretId, this.token, JSON.stringify(fields));
  }

  /**
   * Single user (templates' set_secret): done if the pending password already
   * logs in; else log in as the user with the current password, or failing
   * that the AWSPREVIOUS one, and change it. Pending must name the same user
   * on the same server as the version it logs in with.
   */
  private async setSingleUser(): Promise<void> {
    const previous = await this.readOptional(this.secretId, { versionStage: PREVIOUS }, "The AWSPREVIOUS version of the secret");
    const current = await this.read(this.secretId, { versionStage: CURRENT }, "The AWSCURRENT version of the secret");
    const pending = await this.readPending();
    this.checkSameTarget(pending, current, current.username, "current");

    const already = await this.tryConnect(pending);
    if (already.session) {
      await already.session.close();
      return;
    }
    let login = await this.tryConnect(current);
    if (!login.session && previous) {
      this.checkSameTarget(pending, previous, previous.username, "previous");
      login = await this.tryConnect({ ...previous, ssl: current.ssl });
    }
    if (!login.session) {
      throw new CofferError(
        "InvalidRequest",
        `setSecret failed: could not log in as "${pending.username}" with the pending, current or previous password (${this.scrub(messageOf(login.error))}).`,
      );
    }
    try {
      await this.driver.setOwnPassword(login.session, pending);
    } finally {
      await login.session.close();
    }
  }

  /**
   * Alternating users (templates' MultiUser set_secret): the pending user must
   * be the other one of the pair on the same server, the current credentials
   * must still log in (so the master is never used for a secret that does not
   * hold working credentials: confused deputy), and the master secret must
   * point at the same host. Then, as the master, the clone is created or
   * updated and the pending password set. Always done in full, not skipped
   * when the pending password already works: a crash after creating a clone
   * but before granting it privileges is repaired this way.
   */
  private async setAlternating(): Promise<void> {
    const current = await this.read(this.secretId, { versionStage: CURRENT }, "The AWSCURRENT version of the secret");
    const pending = await this.readPending();
    const limit = this.driver.maxUsernameLength(current.engine);
    this.checkSameTarget(pending, current, alternateUsername(current.username, limit.max, limit.bytes), "current");

    const check = await this.tryConnect(current);
    if (!check.session) {
      throw new CofferError(
        "InvalidRequest",
        `setSecret failed: could not log in with the current credentials of "${current.username}" (${this.scrub(messageOf(check.error))}).`,
      );
    }
    await check.session.close();

    const masterArn = this.master(current);
    const master = await this.read(masterArn, { versionStage: CURRENT }, "The AWSCURRENT version of the master secret");
    if (master.host !== current.host) {
      throw new CofferError("InvalidParameter", `The master secret's host "${master.host}" is not the host of the secret ("${current.host}").`);
    }
    const masterLogin = await this.tryConnect({ ...master, dbname: current.dbname ?? master.dbname });
    if (!masterLogin.session) {
      throw new CofferError("InvalidRequest", `setSecret failed: could not log in with the master secret (${this.scrub(messageOf(masterLogin.error))}).`);
    }
    try {
      await this.driver.setUserPassword(masterLogin.session, baseUsername(current.username), pending);
    } finally {
      await masterLogin.session.close();
    }
  }

  private async testSecret(): Promise<void> {
    const pending = await this.readPending();
    await withSession(this.driver, pending, (session) => this.driver.test(session, pending));
  }

  /** Moves AWSCURRENT to the token; AWSPREVIOUS follows to the version it left (the store does that, as AWS does). */
  private async finishSecret(): Promise<void> {
    const { versionStages } = await this.secrets.describe(this.secretId);
    const currentId = Object.keys(versionStages).find((id) => versionStages[id].includes(CURRENT));
    if (currentId === this.token) return;
    if (currentId === undefined) throw new CofferError("InvalidRequest", "finishSecret failed: no version of the secret is AWSCURRENT.");
    await this.secrets.moveCurrent(this.secretId, this.token, currentId);
  }

  // -- helpers --

  private async read(secretId: string, which: { versionId?: string; versionStage?: string }, what: string): Promise<DbSecret> {
    const value = await this.secrets.getValue(secretId, which);
    const secret = parseDbSecret(value.text, what, this.driver.engines);
    this.passwords.add(secret.password);
    return secret;
  }

  private readPending(): Promise<DbSecret> {
    return this.read(this.secretId, { versionId: this.token, versionStage: PENDING }, "The AWSPENDING version of the secret");
  }

  /** As the templates: a missing or unusable AWSPREVIOUS is no error, just no fallback. */
  private async readOptional(secretId: string, which: { versionStage: string }, what: string): Promise<DbSecret | undefined> {
    try {
      return await this.read(secretId, which, what);
    } catch (err) {
      if (isCofferError(err) && (err.code === "NotFound" || err.code === "InvalidParameter")) return undefined;
      throw err;
    }
  }

  private master(current: DbSecret): string {
    if (current.masterarn === undefined) {
      throw new CofferError("InvalidParameter", `The AWSCURRENT version of the secret has no "masterarn", which alternating-users rotation needs.`);
    }
    return current.masterarn;
  }

  private checkSameTarget(pending: DbSecret, other: DbSecret, expectedUser: string, otherName: string): void {
    if (pending.username !== expectedUser) {
      throw new CofferError(
        "InvalidParameter",
        `The AWSPENDING version names user "${pending.username}" but rotation from the ${otherName} version ("${other.username}") may only change "${expectedUser}".`,
      );
    }
    if (pending.host !== other.host || pending.port !== other.port) {
      throw new CofferError(
        "InvalidParameter",
        `The AWSPENDING version points at ${pending.host}:${pending.port}, not at the ${otherName} version's server ${other.host}:${other.port}.`,
      );
    }
  }

  private async tryConnect(secret: DbSecret): Promise<{ session?: S; error?: unknown }> {
    try {
      return { session: await this.driver.connect(secret) };
    } catch (error) {
      return { error };
    }
  }

  private scrub(message: string): string {
    return scrubSecrets(message, this.passwords);
  }

  private toStepError(err: unknown): CofferError {
    if (isCofferError(err)) {
      const message = this.scrub(err.message);
      return message === err.message ? err : new CofferError(err.code, message);
    }
    return new CofferError("InvalidRequest", `${this.step} failed: ${this.scrub(messageOf(err))}`);
  }
}
