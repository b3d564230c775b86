/**
 * ARNs, parsed and written in one place: arn:<partition>:<service>:<region>:<account>:<resource>.
 * The resource part may itself hold ":" and "/" (secret names, parameter paths).
 */
export interface Arn {
  partition: string;
  service: string;
  /** Empty for global services (IAM, and STS session ARNs). */
  region: string;
  /** Empty for resources no account owns. */
  accountId: string;
  resource: string;
}

export function isArn(text: string): boolean {
  return text.startsWith("arn:");
}

/** The parts of an ARN, or undefined when `text` has fewer than six fields. */
export function parseArn(text: string): Arn | undefined {
  if (!isArn(text)) return undefined;
  const parts = text.split(":");
  if (parts.length < 6) return undefined;
  const [, partition, service, region, accountId] = parts;
  return { partition, service, region, accountId, resource: parts.slice(5).join(":") };
}

export function formatArn(arn: Omit<Arn, "partition"> & { partition?: string }): string {
  return `arn:${arn.partition ?? "aws"}:${arn.service}:${arn.region}:${arn.accountId}:${arn.resource}`;
}

/** An account's root user (what `{"AWS": "<account>"}` means in a policy). */
export function rootArn(accountId: string, partition = "aws"): string {
  return formatArn({ partition, service: "iam", region: "", accountId, resource: "root" });
}

/** An IAM user or role; `path` starts and ends with "/". */
export function iamArn(accountId: string, kind: "user" | "role", name: string, path = "/"): string {
  return formatArn({ service: "iam", region: "", accountId, resource: `${kind}${path}${name}` });
}

/** The principal of an assumed-role session. */
export function assumedRoleArn(accountId: string, roleName: string, sessionName: string): string {
  return formatArn({ service: "sts", region: "", accountId, resource: `assumed-role/${roleName}/${sessionName}` });
}

/** A secret; `id` is its name with the random suffix (a full ARN) or without (a partial ARN). */
export function secretArn(region: string, accountId: string, id: string): string {
  return formatArn({ service: "secretsmanager", region, accountId, resource: `secret:${id}` });
}

/** A parameter: parameter/<name without its leading slash>. */
export function parameterArn(region: string, accountId: string, name: string): string {
  return formatArn({ service: "ssm", region, accountId, resource: `parameter/${name.startsWith("/") ? name.slice(1) : name}` });
}

export function kmsKeyArn(region: string, accountId: string, keyId: string): string {
  return formatArn({ service: "kms", region, accountId, resource: `key/${keyId}` });
}

/** A KMS alias; `aliasName` starts with "alias/". */
export function kmsAliasArn(region: string, accountId: string, aliasName: string): string {
  return formatArn({ service: "kms", region, accountId, resource: aliasName });
}

export function lambdaArn(region: string, accountId: string, functionName: string): string {
  return formatArn({ service: "lambda", region, accountId, resource: `function:${functionName}` });
}
