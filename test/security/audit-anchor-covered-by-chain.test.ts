import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ListSecretsCommand } from "@aws-sdk/client-secrets-manager";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startCoffer } from "../e2e/harness.ts";

/**
 * Issue 12, item 14 (retention anchor): the anchor retention leaves behind is
 * covered by the master-key-derived audit key, so someone with write access to
 * the database file alone cannot delete the oldest events and move the anchor
 * to hide it. `coffer audit verify` must catch it.
 */

// Each test starts several server processes (and CLI runs): generous on a busy machine; a hang detector, not a timing.
vi.setConfig({ testTimeout: 180_000 });

const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "coffer-anchor-"));
  dirs.push(d);
  return d;
}

const verify = (dataDir: string) =>
  promisify(execFile)(process.execPath, [bin, "audit", "verify", "--data-dir", dataDir]).then(
    (r) => ({ ok: true, out: r.stdout }),
    (e: { stderr: string }) => ({ ok: false, out: e.stderr }),
  );

type Row = { seq: number; hash: string };

/** What an attacker with the database file does: removes the oldest events through `seq` and re-anchors the chain there. */
function pruneByHand(dataDir: string, anchor: (row: Row) => unknown): void {
  const db = new Database(join(dataDir, "coffer.db"));
  try {
    const first = db.prepare("SELECT seq FROM audit_rows ORDER BY seq LIMIT 1").get() as { seq: number };
    const row = db.prepare("SELECT seq, hash FROM audit_rows WHERE seq = ?").get(first.seq + 2) as Row;
    db.prepare("DELETE FROM audit_rows WHERE seq <= ?").run(row.seq);
    db.prepare("DELETE FROM audit_checkpoints WHERE seq <= ?").run(row.seq);
    db.prepare("INSERT INTO settings (name, value) VALUES ('audit.anchor', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(
      JSON.stringify(anchor(row)),
    );
  } finally {
    db.close();
  }
}

function setting(dataDir: string, name: string): string | undefined {
  const db = new Database(join(dataDir, "coffer.db"), { readonly: true });
  try {
    return (db.prepare("SELECT value FROM settings WHERE name = ?").get(name) as { value: string } | undefined)?.value;
  } finally {
    db.close();
  }
}

describe("the audit retention anchor", () => {
  it("deleting the oldest events and writing an anchor for them makes verify fail", async () => {
    const dataDir = tempDir();
    const run = await startCoffer({ dataDir });
    for (let i = 0; i < 6; i++) await run.client.send(new ListSecretsCommand({}));
    await run.stop();
    expect((await verify(dataDir)).ok).toBe(true);

    pruneByHand(dataDir, (row) => ({ seq: row.seq, hash: row.hash }));
    const r = await verify(dataDir);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/anchor/);
  });

  it("a real retention run verifies; pruning further by hand, reusing its signed anchor or a signed head, does not", async () => {
    const dataDir = tempDir();
    let skew = 0;
    const clock = { now: () => Date.now() + skew };
    const run = await startCoffer({
      dataDir,
      clock,
      env: { COFFER_AUDIT_RETENTION_DAYS: "1", COFFER_PURGE_INTERVAL_SECONDS: "1" },
    });
    try {
      for (let i = 0; i < 4; i++) await run.client.send(new ListSecretsCommand({}));
      // Two days later, retention exports and removes those events.
      skew = 2 * 86_400_000;
      const deadline = Date.now() + 20_000;
      while (!(await run.coffer.store.getSetting("audit.anchor"))) {
        if (Date.now() > deadline) throw new Error("retention did not run");
        await new Promise((r) => setTimeout(r, 100));
      }
      skew = 0;
      for (let i = 0; i < 6; i++) await run.client.send(new ListSecretsCommand({}));
    } finally {
      await run.stop();
    }
    const verified = await verify(dataDir);
    expect(verified.out).toMatch(/^audit trail intact/);

    const anchor = JSON.parse(setting(dataDir, "audit.anchor")!) as Record<string, unknown>;
    const head = JSON.parse(setting(dataDir, "audit.head")!) as Record<string, unknown>;
    // The genuine anchor's signature on a later position.
    pruneByHand(dataDir, (row) => ({ ...anchor, seq: row.seq, hash: row.hash }));
    expect((await verify(dataDir)).ok).toBe(false);
    // A signed head (or checkpoint) passed off as the anchor, with every event before it removed.
    const db = new Database(join(dataDir, "coffer.db"));
    db.prepare("DELETE FROM audit_rows WHERE seq <= ?").run(head.seq);
    db.prepare("UPDATE settings SET value = ? WHERE name = 'audit.anchor'").run(JSON.stringify(head));
    db.close();
    const r = await verify(dataDir);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/anchor/);
  });
});
