import type { OutputFormat } from "./client-options.ts";

/**
 * What a command prints: for people (`--output text`, the default) a table
 * of rows or one "field  value" line per field; for programs
 * (`--output json`) the API's answer as JSON, without the SDK's `$metadata`.
 */

type Row = Record<string, unknown>;

/** JSON of an API answer: `$metadata` (request id, attempts, HTTP status) is the SDK's, not the answer's. */
export function withoutMetadata<T>(value: T): T {
  if (value && typeof value === "object" && !Array.isArray(value) && "$metadata" in value) {
    const { $metadata: _, ...rest } = value as Row;
    return rest as T;
  }
  return value;
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return "-";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value).replace(/[\r\n\t]+/g, " ");
}

/** Columns padded to their widest cell, a header line first. */
export function table<T extends object>(rows: T[], columns: (keyof T & string)[]): string {
  const cells: string[][] = [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  return cells.map((line) => line.map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]))).join("  ")).join("\n") + "\n";
}

/** One "field  value" line per field that has a value. */
export function fields<T extends object>(record: T | undefined, only: (keyof T & string)[]): string {
  if (!record) return "";
  const names = only.filter((k) => record[k] !== undefined);
  const width = Math.max(0, ...names.map((n) => n.length));
  return names.map((n) => `${n.padEnd(width)}  ${cell(record[n])}`).join("\n") + "\n";
}

/**
 * Prints a result: `text` is `human` (a string: table(), fields(), a line), `json` the value itself.
 * An empty `human` prints nothing.
 */
export function print(format: OutputFormat | undefined, value: unknown, human: string): void {
  if (format === "json") process.stdout.write(JSON.stringify(withoutMetadata(value) ?? {}, null, 2) + "\n");
  else if (human !== "") process.stdout.write(human.endsWith("\n") ? human : human + "\n");
}
