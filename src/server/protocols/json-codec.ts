import type { OperationSpec } from "../../shared/shape-types.ts";
import { validateInput } from "../../api/validate.ts";
import { CofferError } from "../../shared/errors.ts";
import type { ApiService } from "../../api/api-service.ts";
import { signedTarget } from "../request-context.ts";
import { decodeInput, parseJsonBody, serializeError, serializeOutput } from "./aws-json.ts";
import type { ProtocolCodec } from "./codec.ts";
import { protocolErrors } from "../../api/api-errors.ts";

const JSON_CONTENT_TYPES = new Set(["application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"]);
const ERROR_CONTENT_TYPE = "application/x-amz-json-1.1";

/** AWS JSON 1.0/1.1: the operation is the signed X-Amz-Target, the input a JSON body. */
export function jsonCodec(services: ApiService[]): ProtocolCodec {
  // By X-Amz-Target prefix; a dotted prefix (CloudTrail's) is also accepted by its last part, as the SDKs send it.
  const byPrefix = new Map<string, ApiService>();
  for (const s of services.filter((s) => s.metadata.targetPrefix)) {
    const prefix = s.metadata.targetPrefix!;
    byPrefix.set(prefix, s);
    byPrefix.set(prefix.slice(prefix.lastIndexOf(".") + 1), s);
  }
  const resultType = new Map(services.map((s) => [s, `application/x-amz-json-${s.metadata.jsonVersion ?? "1.1"}`]));

  return {
    name: "json",
    errors: protocolErrors,

    route(req) {
      // Routing follows only what the signature covers (see signedTarget).
      const target = signedTarget(req);
      const dot = target === undefined ? -1 : target.lastIndexOf(".");
      const service = target === undefined ? undefined : byPrefix.get(target.slice(0, dot));
      const operation = target === undefined ? "" : target.slice(dot + 1);
      if (!service || !Object.hasOwn(service.operations, operation)) {
        return {
          service,
          operation,
          refusal: new CofferError("UnknownOperation", `The operation ${(target ?? "(no X-Amz-Target)").slice(0, 256)} is not known.`),
        };
      }
      if (!JSON_CONTENT_TYPES.has(req.contentType)) {
        return {
          service,
          operation,
          refusal: new CofferError(
            "Serialization",
            `Unsupported Content-Type "${req.contentType}": send application/x-amz-json-${service.metadata.jsonVersion ?? "1.1"}.`,
          ),
        };
      }
      return { service, operation, spec: service.operations[operation] };
    },

    decode(req, service, spec: OperationSpec) {
      const raw = parseJsonBody(req.parts.body);
      if (!spec.input) return {};
      validateInput(service.shapes, spec.input, raw);
      return decodeInput(service.shapes, spec.input, raw);
    },

    encodeResult(_req, service, _operation, spec, output) {
      return { status: 200, contentType: resultType.get(service)!, body: serializeOutput(service.shapes, spec.output, output) };
    },

    encodeError(_req, _service, error, message) {
      return { status: error.status, contentType: ERROR_CONTENT_TYPE, errorType: error.type, body: serializeError(error.type, message) };
    },
  };
}
