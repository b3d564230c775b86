import type { AuditCheckpoint, AuditEntry, AuditRow } from "./store.ts";

export const GENESIS_HASH: string;
export const CHECKPOINT_EVERY: number;
export const HEAD_SETTING: string;
export const ANCHOR_SETTING: string;

/** Hex SHA-256 of prevHash + "\n" + record. */
export function chainHash(prevHash: string, record: string): string;
/** HMAC-SHA256 of "seq\nhash\ntime" under the audit key. */
export function signCheckpoint(key: Buffer, seq: number, hash: string, time: number): string;
/** Where the chain continues: after its last row, else after the retention anchor (the setting's JSON), else from the genesis hash. */
export function chainHead(last: { seq: number; hash: string } | undefined, anchorSetting: string | undefined): { seq: number; hash: string };
/**
 * Links a batch onto the head: its rows, the signed head to store under
 * HEAD_SETTING, and a permanent checkpoint when the batch passes a multiple of
 * CHECKPOINT_EVERY. The caller writes all three in one transaction.
 */
export function chainBatch(
  head: { seq: number; hash: string },
  entries: readonly AuditEntry[],
  key: Buffer,
  time: number,
): { rows: AuditRow[]; signedHead: AuditCheckpoint; checkpoint?: AuditCheckpoint };
/** A row's column values in the order of the SQL backends' audit_rows table. */
export function auditRowParams(row: AuditRow): unknown[];
