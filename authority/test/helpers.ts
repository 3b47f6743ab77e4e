/**
 * Small helpers for this package's tests: temporary folders removed after each test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";

/** A fresh temporary folder, removed when the current test finishes. */
export function tempDir(prefix = "cairn-authority-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The rows an older schema's migration test starts from: the top-level org (id 1) and one user
 * of it; returns the user's id. Every schema since version 1 has these columns.
 */
export function seedOrgAndUser(db: { prepare(sql: string): { run(...a: unknown[]): { lastInsertRowid: number | bigint } } }): number | bigint {
  db.prepare(
    "INSERT INTO orgs (org_uid, org_guid, name, path, depth, registration_key, registration_key_hash, created_at, modified_at) VALUES ('100000000000000001', '900000000000000001', 'Top', '/1/', 0, 'K', 'h', 1, 1)",
  ).run();
  return db
    .prepare(
      "INSERT INTO users (user_uid, org_id, username, username_key, created_at, modified_at) VALUES ('200000000000000001', 1, 'u@example.com', 'u@example.com', 1, 1)",
    )
    .run().lastInsertRowid;
}
