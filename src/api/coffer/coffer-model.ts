import type { OperationSpec, ServiceMetadata, Shape } from "../../shared/shape-types.ts";

/**
 * Coffer's own admin API, in the vocabulary of the generated AWS models so the
 * same server pipeline (SigV4, validation, audit redaction) serves it:
 * awsJson 1.1, X-Amz-Target Coffer.<Operation>, signed for service "coffer".
 * Hand-written because no AWS model describes it.
 */
export const metadata = {
  protocol: "json",
  apiVersion: "2026-11-01",
  endpointPrefix: "coffer",
  signingName: "coffer",
  serviceId: "Coffer",
  targetPrefix: "Coffer",
  jsonVersion: "1.1",
} as const satisfies ServiceMetadata;

export const operations = {
  RegisterRotationFunction: {
    input: "RegisterRotationFunctionRequest",
    output: "RegisterRotationFunctionResponse",
    errors: ["InvalidParameterException", "ResourceExistsException", "AccessDeniedException"],
    readOnly: false,
  },
  ListRotationFunctions: { output: "ListRotationFunctionsResponse", errors: ["AccessDeniedException"], readOnly: true },
  DeregisterRotationFunction: {
    input: "DeregisterRotationFunctionRequest",
    errors: ["ResourceNotFoundException", "AccessDeniedException"],
    readOnly: false,
  },
  VerifyAuditTrail: { output: "VerifyAuditTrailResponse", errors: ["AccessDeniedException"], readOnly: true },
} as const satisfies Record<string, OperationSpec>;

export const shapes: Record<string, Shape> = {
  FunctionName: { type: "string", min: 1, max: 64, pattern: "[A-Za-z0-9_-]+" },
  FunctionArn: { type: "string" },
  Url: { type: "string", min: 1, max: 2048 },
  WebhookSecret: { type: "string", min: 16, max: 4096, sensitive: true },
  Program: { type: "string", min: 1, max: 4096 },
  Argument: { type: "string", max: 4096 },
  Arguments: { type: "list", member: { shape: "Argument" }, max: 100 },
  RoleArn: { type: "string", min: 20, max: 2048 },
  Kind: { type: "string", enum: ["webhook", "command", "built-in"] },
  Webhook: {
    type: "structure",
    members: { Url: { shape: "Url" }, Secret: { shape: "WebhookSecret" } },
    required: ["Url", "Secret"],
  },
  Command: {
    type: "structure",
    members: { Program: { shape: "Program" }, Args: { shape: "Arguments" }, RoleArn: { shape: "RoleArn" } },
    required: ["Program", "RoleArn"],
  },
  RegisterRotationFunctionRequest: {
    type: "structure",
    members: { FunctionName: { shape: "FunctionName" }, Webhook: { shape: "Webhook" }, Command: { shape: "Command" } },
    required: ["FunctionName"],
  },
  RegisterRotationFunctionResponse: { type: "structure", members: { FunctionArn: { shape: "FunctionArn" } } },
  RotationFunction: {
    type: "structure",
    members: {
      FunctionName: { shape: "FunctionName" },
      FunctionArn: { shape: "FunctionArn" },
      Kind: { shape: "Kind" },
      Url: { shape: "Url" },
      Program: { shape: "Program" },
      Args: { shape: "Arguments" },
      RoleArn: { shape: "RoleArn" },
    },
  },
  RotationFunctions: { type: "list", member: { shape: "RotationFunction" } },
  ListRotationFunctionsResponse: { type: "structure", members: { Functions: { shape: "RotationFunctions" } } },
  DeregisterRotationFunctionRequest: {
    type: "structure",
    members: { FunctionName: { shape: "FunctionName" } },
    required: ["FunctionName"],
  },
  Count: { type: "long" },
  Problem: { type: "string" },
  Intact: { type: "boolean" },
  VerifyAuditTrailResponse: {
    type: "structure",
    members: {
      Intact: { shape: "Intact" },
      EventCount: { shape: "Count" },
      FirstSequence: { shape: "Count" },
      LastSequence: { shape: "Count" },
      SignedCheckpoints: { shape: "Count" },
      ProblemSequence: { shape: "Count" },
      Problem: { shape: "Problem" },
    },
  },
};
