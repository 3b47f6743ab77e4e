/**
 * Audit entries: every mutating call writes one in the same transaction as its change (T04: no
 * role row without its audit row); denied attempts are written on their own (T24).
 */
import type { Principal } from "../auth/access.js";
import type { NewAuditEntry } from "../db/records.js";
import type { AuthorityStore } from "../db/store.js";

/** What an entry is about. */
export interface AuditTarget {
  type: string;
  id: string | number | null;
  /** The org the target belongs to (who may read the entry); null for system-wide actions. */
  orgId: number | null;
}

/** Builds an entry for `action` by `p`. */
export function auditEntry(
  p: Principal,
  at: number,
  action: string,
  target: AuditTarget | null,
  details: Record<string, unknown> | null = null,
): NewAuditEntry {
  return {
    at,
    actorKind: p.kind === "system" ? "system" : "user",
    actorUserId: p.userId,
    actorUsername: p.username,
    source: p.source,
    requestId: p.requestId,
    action,
    outcome: "ok",
    targetType: target?.type ?? null,
    targetId: target === null || target.id === null ? null : String(target.id),
    orgId: target?.orgId ?? null,
    details,
  };
}

/** Records a denied attempt, in its own transaction; never throws (the denial is what matters). */
export async function auditDenied(store: AuthorityStore, p: Principal, at: number, action: string, target: AuditTarget | null, reason: string): Promise<void> {
  try {
    await store.transaction((tx) => tx.appendAudit({ ...auditEntry(p, at, action, target, { reason }), outcome: "denied" }));
  } catch {
    // a full database must not turn a 403/404 into a 507
  }
}

/** Writes one entry in its own transaction (for actions without other rows to write). */
export async function appendAuditNow(store: AuthorityStore, entry: ReturnType<typeof auditEntry>): Promise<void> {
  await store.transaction((tx) => tx.appendAudit(entry));
}
