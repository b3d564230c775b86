import type { ApiService, Handler } from "../api-service.ts";
import type { FunctionDescription, FunctionRegistry } from "../../services/rotation/rotation-registry.ts";
import { secretsManagerError } from "../secretsmanager/secretsmanager-errors.ts";
import type { AuditVerification } from "../../audit/audit-verify.ts";
import { metadata, operations, shapes } from "./coffer-model.ts";

/** Coffer's admin API (docs/rotation.md): registering rotation functions. Errors are named as Secrets Manager names them. */

interface RegisterInput {
  FunctionName: string;
  Webhook?: { Url: string; Secret: string };
  Command?: { Program: string; Args?: string[]; RoleArn: string };
}

function wireFunction(f: FunctionDescription) {
  return {
    FunctionName: f.name,
    FunctionArn: f.arn,
    Kind: f.kind,
    Url: f.url,
    Program: f.command?.[0],
    Args: f.command?.slice(1),
    RoleArn: f.roleArn,
  };
}

export function cofferAdminApi(functions: FunctionRegistry, audit?: AuditVerification): ApiService {
  const handlers: Record<string, Handler> = {
    async RegisterRotationFunction(p, i: RegisterInput) {
      const registered = await functions.register(p, {
        name: i.FunctionName,
        webhook: i.Webhook && { url: i.Webhook.Url, secret: i.Webhook.Secret },
        command: i.Command && { program: i.Command.Program, args: i.Command.Args, roleArn: i.Command.RoleArn },
      });
      return { FunctionArn: registered.arn };
    },
    async ListRotationFunctions(p) {
      return { Functions: (await functions.list(p)).map(wireFunction) };
    },
    async DeregisterRotationFunction(p, i: { FunctionName: string }) {
      await functions.deregister(p, i.FunctionName);
      return {};
    },
    /** The audit chain's state (docs/audit.md, docs/console.md): intact with its extent, or the first problem. */
    async VerifyAuditTrail(p) {
      if (!audit) throw new Error("audit verification is not wired");
      const r = await audit.verify(p);
      return r.ok
        ? { Intact: true, EventCount: r.rows, FirstSequence: r.firstSeq, LastSequence: r.lastSeq, SignedCheckpoints: r.checkpoints }
        : { Intact: false, ProblemSequence: r.seq, Problem: r.problem };
    },
  };
  return { metadata, shapes, operations, handlers, errorFor: secretsManagerError };
}
