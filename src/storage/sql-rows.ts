import type {
  AccessKeyRecord,
  AliasRecord,
  AuditRow,
  KeyMeta,
  KeyRecord,
  ParameterVersionRecord,
  SecretRecord,
  SessionInfo,
  VersionRecord,
} from "./store.ts";

/**
 * Rows of the SQL backends as records. SQLite and PostgreSQL share the column
 * names and types as the drivers return them (integers as numbers, blobs as
 * Buffers, JSON documents as text), so they share these.
 */
export type Row = Record<string, unknown>;

export function toSecret(row: Row | undefined): SecretRecord | undefined {
  return row && (JSON.parse(row.doc as string) as SecretRecord);
}

export function toVersion(row: Row, stages: string[]): VersionRecord {
  const v: VersionRecord = {
    secretArn: row.secret_arn as string,
    versionId: row.version_id as string,
    createdAt: row.created_at as number,
    stages,
    keyArn: row.key_arn as string,
    valueKind: row.value_kind as VersionRecord["valueKind"],
  };
  if (row.last_accessed_at != null) v.lastAccessedAt = row.last_accessed_at as number;
  if (row.sealed_value != null) v.sealedValue = row.sealed_value as Buffer;
  if (row.wrapped_data_key != null) v.wrappedDataKey = row.wrapped_data_key as Buffer;
  return v;
}

export function toParameterVersion(row: Row, labels: string[]): ParameterVersionRecord {
  const v = { ...(JSON.parse(row.doc as string) as Omit<ParameterVersionRecord, "labels">), labels } as ParameterVersionRecord;
  if (row.sealed_value != null) v.sealedValue = row.sealed_value as Buffer;
  if (row.wrapped_data_key != null) v.wrappedDataKey = row.wrapped_data_key as Buffer;
  return v;
}

export function toKey(row: Row | undefined): KeyRecord | undefined {
  return (
    row && {
      keyId: row.key_id as string,
      arn: row.arn as string,
      accountId: row.account_id as string,
      createdAt: row.created_at as number,
      masterKeyId: row.master_key_id as string,
      sealedMaterial: row.sealed_material as Buffer,
      meta: JSON.parse(row.meta as string) as KeyMeta,
    }
  );
}

export function toAlias(row: Row | undefined): AliasRecord | undefined {
  return (
    row && { accountId: row.account_id as string, aliasName: row.alias_name as string, keyId: row.key_id as string }
  );
}

export function toAccessKey(row: Row | undefined): AccessKeyRecord | undefined {
  if (!row) return undefined;
  const k: AccessKeyRecord = {
    accessKeyId: row.access_key_id as string,
    principalArn: row.principal_arn as string,
    accountId: row.account_id as string,
    status: row.status as AccessKeyRecord["status"],
    createdAt: row.created_at as number,
    masterKeyId: row.master_key_id as string,
    sealedSecret: row.sealed_secret as Buffer,
  };
  if (row.expires_at != null) k.expiresAt = row.expires_at as number;
  if (row.session != null) k.session = JSON.parse(row.session as string) as SessionInfo;
  return k;
}

export function toAuditRow(row: Row | undefined): AuditRow | undefined {
  if (!row) return undefined;
  const r: AuditRow = {
    seq: row.seq as number,
    kind: row.kind as AuditRow["kind"],
    time: row.time as number,
    eventId: row.event_id as string,
    eventName: row.event_name as string,
    eventSource: row.event_source as string,
    accountIds: (row.account_ids as string).split("|").filter(Boolean),
    readOnly: row.read_only === 1,
    resources: JSON.parse(row.resources as string) as AuditRow["resources"],
    record: row.record as string,
    prevHash: row.prev_hash as string,
    hash: row.hash as string,
  };
  if (row.username != null) r.username = row.username as string;
  if (row.access_key_id != null) r.accessKeyId = row.access_key_id as string;
  return r;
}

/** An access key's column values in the order of the SQL backends' INSERT (access_key_id ... session). */
export function accessKeyParams(k: AccessKeyRecord): unknown[] {
  return [
    k.accessKeyId,
    k.principalArn,
    k.accountId,
    k.status,
    k.createdAt,
    k.masterKeyId,
    k.sealedSecret,
    k.expiresAt ?? null,
    k.session ? JSON.stringify(k.session) : null,
  ];
}
