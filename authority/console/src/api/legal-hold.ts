/** Legal hold: matters, custodians, policies and the event report (API.md §11). */
import { get, post, put } from "./client.js";
import type { Page } from "./types.js";

/** A preservation policy. */
export interface HoldPolicy {
  legalHoldPolicyUid: string;
  name: string;
  creationDate: string;
}

/** A matter. */
export interface Matter {
  legalHoldUid: string;
  name: string;
  description: string | null;
  notes: string | null;
  holdExtRef: string | null;
  active: boolean;
  creationDate: string;
  lastModified: string;
  holdPolicyUid: string;
  creator: { userUid: string; username: string } | null;
}

/** A custodian's membership in a matter. */
export interface Membership {
  legalHoldMembershipUid: string;
  active: boolean;
  creationDate: string;
  legalHold: { legalHoldUid: string; name: string };
  user: { userUid: string; username: string; email: string | null };
}

/** One entry of the event report. */
export interface HoldEvent {
  eventUid: string;
  eventType: string;
  eventDate: string;
  legalHoldUid: string;
  custodianUsername: string | null;
  actorUsername: string | null;
}

export type ActiveState = "ACTIVE" | "INACTIVE" | "ALL";

/** A page of matters. */
export async function listMatters(q: { activeState: ActiveState; name?: string; pgNum: number; pgSize: number }, signal?: AbortSignal): Promise<Page<Matter>> {
  const r = await get<{ totalCount: number; legalHolds: Matter[] }>(
    "/api/LegalHold",
    { activeState: q.activeState, name: q.name || undefined, pgNum: q.pgNum, pgSize: q.pgSize },
    signal,
  );
  return { totalCount: r.totalCount, items: r.legalHolds };
}

/** One matter. */
export function getMatter(uid: string, signal?: AbortSignal): Promise<Matter> {
  return get<Matter>(`/api/LegalHold/${encodeURIComponent(uid)}`, undefined, signal);
}

/** Every policy. */
export function listPolicies(signal?: AbortSignal): Promise<HoldPolicy[]> {
  return get<HoldPolicy[]>("/api/v4/legal-hold-policy/list", undefined, signal);
}

/** A new policy with the default preservation rules. */
export function createPolicy(name: string): Promise<HoldPolicy> {
  return post<HoldPolicy>("/api/v4/legal-hold-policy/create", { name, policy: null });
}

/** A new matter. */
export function createMatter(m: {
  name: string;
  holdPolicyUid: string;
  description: string | null;
  notes: string | null;
  holdExtRef: string | null;
}): Promise<Matter> {
  return post<Matter>("/api/LegalHold", m);
}

/** Closes a matter (its custodians are released from it). */
export function closeMatter(uid: string): Promise<void> {
  return post<void>("/api/v4/legal-hold-deactivation/update", { legalHoldUid: uid });
}

/** Reopens a closed matter. */
export function reopenMatter(uid: string): Promise<void> {
  return put<void>(`/api/LegalHoldReactivation/${encodeURIComponent(uid)}`);
}

/** A page of a matter's memberships. */
export async function listMemberships(
  q: { legalHoldUid: string; activeState: ActiveState; pgNum: number; pgSize: number },
  signal?: AbortSignal,
): Promise<Page<Membership>> {
  const r = await get<{ totalCount: number; legalHoldMemberships: Membership[] }>("/api/LegalHoldMembership", q, signal);
  return { totalCount: r.totalCount, items: r.legalHoldMemberships };
}

/** Puts a user on hold in a matter. */
export function addCustodian(legalHoldUid: string, userUid: string): Promise<Membership> {
  return post<Membership>("/api/LegalHoldMembership", { legalHoldUid, userUid });
}

/** Releases a custodian. */
export function removeCustodian(legalHoldMembershipUid: string): Promise<void> {
  return post<void>("/api/LegalHoldMembershipDeactivation", { legalHoldMembershipUid });
}

/** A page of a matter's events, oldest first. */
export async function listHoldEvents(q: { legalHoldUid: string; pgNum: number; pgSize: number }, signal?: AbortSignal): Promise<Page<HoldEvent>> {
  const r = await get<{ totalCount: number; legalHoldEvents: HoldEvent[] }>("/api/LegalHoldEventReport", q, signal);
  return { totalCount: r.totalCount, items: r.legalHoldEvents };
}
