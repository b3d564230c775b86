export const INSERT_AUDIT_ROW: string;
export const INSERT_AUDIT_CHECKPOINT: string;
export const UPSERT_SETTING: string;
/** The last row's seq and hash, if any. */
export const LAST_AUDIT_ROW: string;
export const GET_SETTING: string;
