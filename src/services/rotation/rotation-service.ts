import { randomUUID } from "node:crypto";
import type { RotationClaim, RotationRules, RotationState, SecretRecord, SecretStore, VersionRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import { createSecretLoader } from "../secrets/secrets-access.ts";
import type { SecretsService } from "../secrets/secrets-service.ts";
import { AWSCURRENT, AWSPENDING } from "../secrets/secrets-types.ts";
import type { ServiceEventSink } from "../service-events.ts";
import { localRandomPassword, parseFunctionArn } from "./rotation-functions.ts";
import { nextWindow, parseRotationRules, spreadWithin } from "./rotation-schedule.ts";
import { ROTATION_STEPS, type RotationSecrets, type Rotator } from "./rotation-types.ts";
import { rootArn } from "../../shared/arn.ts";

const MAX_ATTEMPTS = 5;
const STEP_TIMEOUT_MS = 60_000;
/** Webhooks and commands enforce the step timeout themselves (killing, aborting); this backstop only catches one that does not. */
const BACKSTOP_MARGIN_MS = 5_000;
const RETRY_BASE_MS = 60_000;

interface RotationDeps {
  /** Rotation jobs live on their secrets (RotationState), so the secrets' store is the job queue. */
  store: SecretStore;
  secrets: SecretsService;
  authorizer: Authorizer;
  clock: { now(): number };
  region: string;
  /**
   * This node's name, stable across its restarts (a restarted node takes its
   * own rotations back at once; another node waits for the claim to lapse).
   */
  node: string;
  /** The rotation function an ARN names, or undefined. */
  resolveFunction(arn: string): Promise<Rotator | undefined>;
  /** How long one step may take (default 60 s). */
  stepTimeoutMs?: number;
  serviceEvents?: ServiceEventSink;
  /** Told how each rotation attempt ended: succeeded, failed (to be retried) or abandoned until the next window (metrics). */
  onOutcome?: (outcome: "succeeded" | "failed" | "abandoned") => void;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/** The account's own authority, with which Coffer performs rotation steps (as the Secrets Manager service does). */
function serviceActor(accountId: string): Principal {
  return { arn: rootArn(accountId), accountId, accessKeyId: "coffer-rotation", kind: "root" };
}

export function createRotationService(deps: RotationDeps) {
  const { store, secrets, authorizer, clock, region } = deps;
  const { load } = createSecretLoader({ authorizer, region });
  const running = new Map<string, Promise<void>>();
  const stepTimeoutMs = deps.stepTimeoutMs ?? STEP_TIMEOUT_MS;
  /** Outlasts one step (with its timeout), so a claim lapses only when its node is gone. */
  const claimMs = 2 * (stepTimeoutMs + BACKSTOP_MARGIN_MS);

  /**
   * The function an ARN names, if it may rotate a secret of `accountId`: a
   * function runs with the secret's account's authority (or a role the
   * operator gave it), so only the account's own functions qualify.
   */
  async function functionFor(accountId: string, arn: string): Promise<Rotator | undefined> {
    const parsed = parseFunctionArn(arn);
    if (!parsed || parsed.accountId !== accountId || parsed.region !== region) return undefined;
    return deps.resolveFunction(arn);
  }

  function rotationSecrets(accountId: string): RotationSecrets {
    const actor = serviceActor(accountId);
    return {
      async describe(secretId) {
        const d = await secrets.describe(actor, { secretId });
        return { arn: d.arn, versionStages: d.versionStages };
      },
      async getValue(secretId, which) {
        const v = await secrets.getValue(actor, { secretId, versionId: which.versionId, versionStage: which.versionStage });
        if (v.value.kind !== "string") throw new CofferError("InvalidRequest", "Rotation needs a SecretString value.");
        return { versionId: v.versionId, text: v.value.text, stages: v.stages };
      },
      async putPending(secretId, token, text) {
        await secrets.putValue(actor, { secretId, value: { kind: "string", text }, clientRequestToken: token, stages: [AWSPENDING] });
      },
      async moveCurrent(secretId, to, from) {
        await secrets.updateVersionStage(actor, { secretId, stage: AWSCURRENT, moveToVersionId: to, removeFromVersionId: from });
      },
      async randomPassword(options) {
        return localRandomPassword(options);
      },
    };
  }

  /** When the scheduler should next look at a secret with this state. */
  function schedule(secret: SecretRecord, state: RotationState): { nextRotationAt?: number; rotateAt?: number } {
    if (!state.enabled || !state.rules) return {};
    const window = nextWindow(parseRotationRules(state.rules), clock.now(), state.lastRotatedAt);
    return { nextRotationAt: window.start, rotateAt: spreadWithin(window, secret.arn) };
  }

  async function update(arn: string, change: (secret: SecretRecord, state: RotationState) => Partial<SecretRecord>) {
    return store.transaction(async (tx) => {
      const secret = await tx.getSecret(arn);
      if (!secret?.rotation) return undefined;
      const next = { ...secret, ...change(secret, secret.rotation) };
      await tx.putSecret(next);
      return next;
    });
  }

  /**
   * Puts the AWSPENDING placeholder (no value until createSecret) and marks the
   * rotation under way, claimed by this node; a rotation another node began
   * meanwhile is left as it is.
   */
  async function begin(arn: string, token: string): Promise<boolean> {
    return store.transaction(async (tx) => {
      const secret = (await tx.getSecret(arn))!;
      const state = secret.rotation!;
      if (state.inProgress) return false;
      const existing = await tx.getVersion(arn, token);
      if (!existing) {
        const placeholder: VersionRecord = { secretArn: arn, versionId: token, createdAt: clock.now(), stages: [AWSPENDING], keyArn: "", valueKind: "none" };
        await tx.putVersion(placeholder);
      }
      const inProgress = { token, step: 0, attempts: 0, startedAt: clock.now(), claim: claimFor() };
      await tx.putSecret({ ...secret, rotateAt: clock.now(), rotation: { ...state, inProgress } });
      return true;
    });
  }

  const claimFor = (): RotationClaim => ({ node: deps.node, until: clock.now() + claimMs });

  /**
   * Claims (or renews this node's claim on) the rotation under way, for the
   * next step, and returns the secret as claimed (undefined: not this node's to run). The read and write share one transaction, which the Store
   * serialises (a row lock on a networked backend), so of several nodes that
   * find the rotation due exactly one runs it.
   */
  async function claim(arn: string): Promise<SecretRecord | undefined> {
    return store.transaction(async (tx) => {
      const secret = await tx.getSecret(arn);
      const state = secret?.rotation;
      const held = state?.inProgress?.claim;
      if (!secret || !state?.inProgress) return undefined;
      if (held && held.node !== deps.node && held.until > clock.now()) return undefined;
      const claimed = { ...secret, rotation: { ...state, inProgress: { ...state.inProgress, claim: claimFor() } } };
      await tx.putSecret(claimed);
      return claimed;
    });
  }

  async function record(name: string, secret: SecretRecord, details: Record<string, unknown>) {
    await deps.serviceEvents?.record({
      name,
      service: "secretsmanager",
      accountId: secret.accountId,
      resources: [{ arn: secret.arn, type: "AWS::SecretsManager::Secret" }],
      details,
    });
  }

  async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CofferError("InvalidRequest", `${what} timed out after ${ms / 1000} s.`)), ms);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the rotation under way in `secret` is still the one (`token`) this node claimed. */
  const stillOurs = (secret: SecretRecord | undefined, token: string): boolean => {
    const inProgress = secret?.rotation?.inProgress;
    return inProgress?.token === token && inProgress.claim?.node === deps.node;
  };

  /**
   * Records a finished step and renews this node's claim; false when the
   * rotation is no longer this node's to run (a node paused past its claim
   * finds another has taken over, or finished, and stops).
   */
  async function advance(arn: string, token: string, step: number): Promise<boolean> {
    return store.transaction(async (tx) => {
      const secret = await tx.getSecret(arn);
      if (!secret || !stillOurs(secret, token)) return false;
      const state = secret.rotation!;
      await tx.putSecret({ ...secret, rotation: { ...state, inProgress: { ...state.inProgress!, step, claim: claimFor() } } });
      return true;
    });
  }

  /** Runs the remaining steps of a rotation under way; each finished step is remembered, so a crash resumes where it stopped. */
  async function runSteps(arn: string): Promise<void> {
    let secret = await claim(arn);
    let state = secret?.rotation;
    if (!secret || !state?.inProgress) return;
    const { token } = state.inProgress;
    const fn = await functionFor(secret.accountId, state.functionArn);
    const api = rotationSecrets(secret.accountId);
    try {
      if (!fn) throw new CofferError("InvalidRequest", `The rotation function ${state.functionArn} does not exist in the secret's account.`);
      for (let i = state.inProgress.step; i < ROTATION_STEPS.length; i++) {
        const step = ROTATION_STEPS[i];
        await withTimeout(fn.step({ Step: step, SecretId: arn, ClientRequestToken: token }, api), stepTimeoutMs + BACKSTOP_MARGIN_MS, step);
        const version = await store.getVersion(arn, token);
        if (step === "createSecret" && (!version || version.valueKind === "none" || !version.stages.includes(AWSPENDING))) {
          throw new CofferError("InvalidRequest", "createSecret did not put a value in the AWSPENDING version.");
        }
        if (step === "finishSecret" && !version?.stages.includes(AWSCURRENT)) {
          throw new CofferError("InvalidRequest", "finishSecret did not move AWSCURRENT to the new version.");
        }
        if (!(await advance(arn, token, i + 1))) return; // deleted, finished or taken over by another node meanwhile
      }
      // AWSPENDING leaves the new version once it is current, as the AWS templates leave it.
      await store.transaction(async (tx) => {
        const v = await tx.getVersion(arn, token);
        if (v) await tx.putVersion({ ...v, stages: v.stages.filter((s) => s !== AWSPENDING) });
      });
      const done = await update(arn, (s, st) => {
        const finished: RotationState = { ...st, lastRotatedAt: clock.now(), inProgress: undefined, lastError: undefined };
        const next = schedule(s, finished);
        return { rotation: { ...finished, nextRotationAt: next.nextRotationAt }, rotateAt: next.rotateAt, lastChangedAt: clock.now() };
      });
      if (done) await record("RotationSucceeded", done, { versionId: token });
      deps.onOutcome?.("succeeded");
      deps.log?.info({ secret: arn, versionId: token }, "rotation succeeded");
    } catch (err) {
      const message = err instanceof CofferError ? err.message : "The rotation function failed.";
      secret = await store.getSecret(arn);
      state = secret?.rotation;
      // Gone, finished, or taken over by another node while this one was paused: not this node's failure to record.
      if (!secret || !state?.inProgress || !stillOurs(secret, token)) return;
      const attempts = state.inProgress.attempts + 1;
      const step = ROTATION_STEPS[state.inProgress.step];
      await record("RotationFailed", secret, { versionId: token, step, attempt: attempts, error: message }).catch(() => undefined);
      deps.log?.warn({ secret: arn, step, attempt: attempts, error: message }, "rotation step failed; AWSCURRENT unchanged");
      deps.onOutcome?.(attempts < MAX_ATTEMPTS ? "failed" : "abandoned");
      if (attempts < MAX_ATTEMPTS) {
        await update(arn, (_s, st) => ({
          // Released: the retry may run on any node.
          rotation: { ...st, lastError: message, inProgress: { ...st.inProgress!, attempts, claim: undefined } },
          rotateAt: clock.now() + RETRY_BASE_MS * 2 ** (attempts - 1),
        }));
      } else {
        // Give up until the next window: the pending version loses its label, AWSCURRENT never moved.
        await store.transaction(async (tx) => {
          const v = await tx.getVersion(arn, token);
          if (v && !v.stages.includes(AWSCURRENT)) await tx.putVersion({ ...v, stages: v.stages.filter((s) => s !== AWSPENDING) });
        });
        await update(arn, (s, st) => {
          const cleared: RotationState = { ...st, inProgress: undefined, lastError: message };
          const next = schedule(s, cleared);
          return { rotation: { ...cleared, nextRotationAt: next.nextRotationAt }, rotateAt: next.rotateAt };
        });
      }
    }
  }

  /** One run per secret at a time on this node. */
  function kick(arn: string): Promise<void> {
    const existing = running.get(arn);
    if (existing) return existing;
    const run = runSteps(arn).finally(() => running.delete(arn));
    running.set(arn, run);
    return run;
  }

  return {
    async rotate(
      principal: Principal,
      input: { secretId: string; token?: string; functionArn?: string; rules?: RotationRules; rotateImmediately?: boolean },
    ): Promise<{ arn: string; name: string; versionId?: string }> {
      const secret = await load(store, principal, input.secretId, "secretsmanager:RotateSecret", {
        context: {
          "secretsmanager:RotationLambdaARN": input.functionArn,
          "secretsmanager:RotateImmediately": String(input.rotateImmediately ?? true),
          "secretsmanager:ModifyRotationRules": String(input.rules !== undefined),
        },
      });
      const state = secret.rotation;
      const functionArn = input.functionArn ?? state?.functionArn;
      if (!functionArn) throw new CofferError("InvalidRequest", "No Lambda rotation function ARN is associated with this secret.");
      // The caller names only its own account's functions, and a function rotates only its own account's secrets.
      const callersOwn = input.functionArn === undefined || parseFunctionArn(input.functionArn)?.accountId === principal.accountId;
      if (!callersOwn || !(await functionFor(secret.accountId, functionArn))) {
        throw new CofferError(
          "AccessDenied",
          "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.",
        );
      }
      const rules = input.rules ?? state?.rules;
      if (rules) parseRotationRules(rules);
      if (state?.inProgress) {
        throw new CofferError("InvalidRequest", "A previous rotation isn't complete. That rotation will be reattempted.");
      }
      const token = input.token ?? randomUUID();
      const configured: RotationState = { ...state, enabled: true, functionArn, rules };
      await store.transaction(async (tx) => {
        const current = (await tx.getSecret(secret.arn))!;
        const next = schedule(current, configured);
        await tx.putSecret({ ...current, rotation: { ...configured, nextRotationAt: next.nextRotationAt }, rotateAt: next.rotateAt });
      });
      if (input.rotateImmediately === false) return { arn: secret.arn, name: secret.name };
      if (!(await begin(secret.arn, token))) {
        throw new CofferError("InvalidRequest", "A previous rotation isn't complete. That rotation will be reattempted.");
      }
      void kick(secret.arn);
      return { arn: secret.arn, name: secret.name, versionId: token };
    },

    async cancel(principal: Principal, input: { secretId: string }): Promise<{ arn: string; name: string; versionId?: string }> {
      const secret = await load(store, principal, input.secretId, "secretsmanager:CancelRotateSecret");
      const state = secret.rotation;
      const token = state?.inProgress?.token;
      await store.transaction(async (tx) => {
        const current = (await tx.getSecret(secret.arn))!;
        const st = current.rotation;
        if (st) await tx.putSecret({ ...current, rotation: { ...st, enabled: false, inProgress: undefined, nextRotationAt: undefined }, rotateAt: undefined });
        if (token) {
          const v = await tx.getVersion(secret.arn, token);
          if (v && !v.stages.includes(AWSCURRENT)) await tx.putVersion({ ...v, stages: v.stages.filter((s) => s !== AWSPENDING) });
        }
      });
      return { arn: secret.arn, name: secret.name, versionId: token };
    },

    /** Starts or resumes every rotation that is due (a window opened, a retry is due, or a crash interrupted one). */
    async runDue(): Promise<number> {
      const due = await store.listSecretsDueForRotation(clock.now(), 50);
      for (const secret of due) {
        const state = secret.rotation;
        if (!state?.enabled || secret.purgeAt !== undefined) {
          await update(secret.arn, () => ({ rotateAt: undefined }));
          continue;
        }
        if (!state.inProgress) await begin(secret.arn, randomUUID());
        await kick(secret.arn);
      }
      return due.length;
    },

    /** Waits for rotations started on this node (tests, shutdown). */
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.allSettled([...running.values()]);
    },
  };
}

export type RotationService = ReturnType<typeof createRotationService>;
