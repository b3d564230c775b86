import type { OperationSpec } from "../../shared/shape-types.ts";
import { validateInput } from "../../api/validate.ts";
import { CofferError } from "../../shared/errors.ts";
import type { ApiService } from "../../api/api-service.ts";
import { decodeInput } from "./aws-json.ts";
import { decodeQueryInput, parseQueryBody, QUERY_CONTENT_TYPE, serializeQueryError, serializeQueryOutput } from "./aws-query.ts";
import type { ProtocolCodec } from "./codec.ts";
import { queryProtocolErrors } from "../../api/api-errors.ts";

const DEFAULT_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/";

/** AWS Query (IAM, STS): one endpoint, the operation is the form's Action, the answer XML. */
export function queryCodec(services: ApiService[]): ProtocolCodec {
  const queryServices = services.filter((s) => s.metadata.protocol === "query");

  /** Query-protocol services share one endpoint: the signature's scope names the service, else the Action does. */
  function serviceOf(claimed: string | undefined, action: string): ApiService | undefined {
    if (claimed !== undefined) return queryServices.find((s) => s.metadata.signingName === claimed);
    return queryServices.find((s) => Object.hasOwn(s.operations, action));
  }

  return {
    name: "query",
    errors: queryProtocolErrors,

    route(req, facts) {
      const params = parseQueryBody(req.parts.body);
      req.form = params;
      const action = params.get("Action") ?? "";
      facts.operation = action || "unknown";
      const service = serviceOf(req.claimedService, action);
      if (service) facts.service = service.metadata.signingName;
      if (!service || !Object.hasOwn(service.operations, action)) {
        return { service, operation: action, refusal: new CofferError("UnknownOperation", `Could not find operation ${action || "(no Action)"}.`) };
      }
      return { service, operation: action, spec: service.operations[action] };
    },

    decode(req, service, spec: OperationSpec) {
      if (!spec.input) return {};
      const raw = decodeQueryInput(service.shapes, spec.input, req.form!);
      validateInput(service.shapes, spec.input, raw);
      return decodeInput(service.shapes, spec.input, raw);
    },

    encodeResult(req, service, operation, spec, output) {
      const ns = service.metadata.xmlNamespace ?? "";
      return { status: 200, contentType: QUERY_CONTENT_TYPE, body: serializeQueryOutput(service.shapes, operation, spec, ns, output, req.requestId) };
    },

    encodeError(req, service, error, message) {
      const ns = service?.metadata.xmlNamespace ?? DEFAULT_NAMESPACE;
      const type = error.status >= 500 ? "Receiver" : "Sender";
      return { status: error.status, contentType: QUERY_CONTENT_TYPE, body: serializeQueryError(ns, type, error.type, message, req.requestId) };
    },
  };
}
