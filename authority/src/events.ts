/**
 * In-process notifications from the core to the parts that push things to agents and storage
 * nodes (devices and storage): "the effective settings of these orgs changed", "these
 * credentials were revoked". Listeners must not throw; errors are the listener's to log.
 */
import type { NewRevocation } from "./db/records.js";

/** Events and their payloads. */
export interface AuthorityEventMap {
  /**
   * Effective settings (or the offered destinations) of these orgs' subtrees changed. `keys`,
   * when given, names what changed (as `SettingsService.apply` returns it: `group`,
   * `group.field`, `group.field:lock`); absent means "anything may have".
   */
  "settings-changed": { orgIds: number[]; keys?: string[] };
  /** These users moved to another org (their devices' settings changed). */
  "users-moved": { userIds: number[]; toOrgId: number };
  /** These users changed in a way their archives' placements follow: their quota, their deactivation or reactivation (cold storage). */
  "users-changed": { userIds: number[] };
  /**
   * These users became, or stopped being, custodians on an active legal hold (a membership added
   * or removed, a matter closed or reopened): their devices' legal-hold sets and their archives'
   * retention change.
   */
  "holds-changed": { userIds: number[] };
  /** Credentials were revoked: storage nodes must learn it, open sockets must close. */
  revoked: { revocations: NewRevocation[]; userIds: number[]; deviceIds: number[] };
  /** Restore revocations were lifted (an unblock): storage nodes must drop them. */
  "revocations-lifted": { revocations: NewRevocation[] };
  /** These devices' own configuration changed (device settings, block, opt-in): push it to their agents. */
  "devices-changed": { deviceIds: number[] };
  /** These devices were deauthorized: their agents are told, then disconnected. */
  "devices-deauthorized": { deviceIds: number[] };
  /** A storage node reported a committed backup version of an archive (metrics). */
  "backup-committed": { archiveGuid: string; serverId: number };
  /** An agent opened its control link (standing upgrade offers reach it). */
  "agent-connected": { deviceId: number; orgId: number; agentVersion: string | null };
  /** A cold-storage purge run ended (metrics): how many archives it purged. */
  "purge-run": { trigger: "scheduled" | "now"; purged: number };
}

type Listener<T> = (payload: T) => void;

/** A small typed event bus. */
export class AuthorityEvents {
  private readonly listeners = new Map<keyof AuthorityEventMap, Set<Listener<never>>>();

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof AuthorityEventMap>(event: K, fn: Listener<AuthorityEventMap[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as Listener<never>);
    return () => set.delete(fn as Listener<never>);
  }

  /** Notifies every listener (after the change committed). */
  emit<K extends keyof AuthorityEventMap>(event: K, payload: AuthorityEventMap[K]): void {
    for (const fn of this.listeners.get(event) ?? []) (fn as Listener<AuthorityEventMap[K]>)(payload);
  }
}
