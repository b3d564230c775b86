import type { ParameterPolicyRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import { MAX_POLICIES } from "./parameters-types.ts";

/**
 * Parameter policies (Advanced tier only), as on AWS:
 *   Expiration              {"Timestamp": "2030-01-01T00:00:00.000Z"}  deletes the parameter then
 *   ExpirationNotification  {"Before": "15", "Unit": "Days"|"Hours"}    notifies that long before it
 *   NoChangeNotification    {"After": "20", "Unit": "Days"|"Hours"}     notifies when unchanged that long
 * each as {"Type", "Version": "1.0", "Attributes"} in a JSON array.
 */

type PolicyType = ParameterPolicyRecord["type"];
const TYPES: PolicyType[] = ["Expiration", "ExpirationNotification", "NoChangeNotification"];
const UNIT_MS: Record<string, number> = { Days: 86_400_000, Hours: 3_600_000 };
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** What a policy means in time: the expiration moment, or an offset before it / after the last change. */
interface Timing {
  type: PolicyType;
  text: string;
  at?: number;
  offsetMs?: number;
}

const attributeError = (message: string) => new CofferError("InvalidPolicyAttribute", message);

function timingOf(policy: unknown): Timing {
  if (typeof policy !== "object" || policy === null || Array.isArray(policy)) {
    throw new CofferError("Validation", "Each parameter policy must be a JSON object with Type, Version and Attributes.");
  }
  const { Type, Version, Attributes } = policy as Record<string, unknown>;
  if (typeof Type !== "string" || !TYPES.includes(Type as PolicyType)) {
    throw new CofferError(
      "InvalidPolicyType",
      "The policy type is not supported. Parameter Store supports the following policy types: Expiration, ExpirationNotification, and NoChangeNotification.",
    );
  }
  if (Version !== "1.0") throw attributeError(`A ${Type} policy must have Version "1.0".`);
  if (typeof Attributes !== "object" || Attributes === null) throw attributeError(`A ${Type} policy needs Attributes.`);
  const attrs = Attributes as Record<string, unknown>;
  const text = JSON.stringify(policy);
  if (Type === "Expiration") {
    const ts = attrs.Timestamp;
    const at = typeof ts === "string" && ISO_8601.test(ts) ? Date.parse(ts) : NaN;
    if (Number.isNaN(at)) throw attributeError("An Expiration policy needs a Timestamp in ISO 8601 form, e.g. 2030-01-01T00:00:00.000Z.");
    return { type: Type, text, at };
  }
  const field = Type === "ExpirationNotification" ? "Before" : "After";
  const raw = attrs[field];
  const amount = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(amount) || amount < 1) throw attributeError(`A ${Type} policy needs ${field}: a whole number of at least 1.`);
  const unit = UNIT_MS[String(attrs.Unit)];
  if (!unit) throw attributeError(`A ${Type} policy needs Unit: Days or Hours.`);
  return { type: Type as PolicyType, text, offsetMs: amount * unit };
}

/** Parses and checks a Policies document for a new version. An empty array removes all policies. */
export function parsePolicies(document: string, now: number): ParameterPolicyRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw new CofferError("Validation", "Parameter policies must be a JSON array of policy objects.");
  }
  if (!Array.isArray(parsed)) throw new CofferError("Validation", "Parameter policies must be a JSON array of policy objects.");
  if (parsed.length > MAX_POLICIES) {
    throw new CofferError(
      "PoliciesLimitExceeded",
      `You specified more than the maximum number of allowed policies for the parameter. The maximum is ${MAX_POLICIES}.`,
    );
  }
  const timings = parsed.map(timingOf);
  const types = timings.map((t) => t.type);
  if (new Set(types).size !== types.length) {
    throw new CofferError("IncompatiblePolicy", "A parameter can have at most one policy of each type.");
  }
  const expiration = timings.find((t) => t.type === "Expiration");
  if (expiration && expiration.at! <= now) throw attributeError("The Expiration policy's Timestamp must be in the future.");
  if (types.includes("ExpirationNotification") && !expiration) {
    throw new CofferError("IncompatiblePolicy", "An ExpirationNotification policy needs an Expiration policy on the same parameter.");
  }
  return timings.map((t) => ({ type: t.type, text: t.text, status: "Pending" }));
}

/**
 * When each policy acts, for a parameter last changed at `lastModifiedAt`:
 * pending ones get a dueAt; a NoChangeNotification starts over with every
 * change, the others keep their state.
 */
export function schedulePolicies(policies: ParameterPolicyRecord[], lastModifiedAt: number): ParameterPolicyRecord[] {
  const timings = policies.map((p) => timingOf(JSON.parse(p.text)));
  const expiresAt = timings.find((t) => t.type === "Expiration")?.at;
  return policies.map((p, i) => {
    const t = timings[i];
    if (p.type === "NoChangeNotification") return { ...p, status: "Pending", dueAt: lastModifiedAt + t.offsetMs! };
    if (p.status === "Finished") return { type: p.type, text: p.text, status: "Finished" };
    return { ...p, dueAt: p.type === "Expiration" ? t.at! : expiresAt! - t.offsetMs! };
  });
}

/** The earliest moment any pending policy acts. */
export function nextDue(policies: ParameterPolicyRecord[]): number | undefined {
  const due = policies.filter((p) => p.status === "Pending" && p.dueAt !== undefined).map((p) => p.dueAt!);
  return due.length ? Math.min(...due) : undefined;
}

/** A policy's attributes, for the event that records its action. */
export function policyAttributes(policy: ParameterPolicyRecord): Record<string, unknown> {
  return ((JSON.parse(policy.text) as { Attributes?: Record<string, unknown> }).Attributes ?? {}) as Record<string, unknown>;
}
