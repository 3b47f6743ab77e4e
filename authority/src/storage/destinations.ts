/**
 * Destinations as records: creating one (the first destination of a fresh authority is offered
 * system-wide with auto-start, so `init` → `enroll-key` → `storenode init` → `agent register` →
 * `agent backup` needs no further step), names, and dropping a removed destination from every
 * org's offers. Runs inside the caller's transaction; shared by the API and the command line.
 */
import { CairnError, newGuid } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { type Principal, SYSTEM_PRINCIPAL } from "../auth/access.js";
import type { Destination } from "../db/device-records.js";
import type { StoreWriter } from "../db/store.js";
import type { SettingsService } from "../settings/settings-service.js";

/** Longest destination name. */
export const DESTINATION_NAME_MAX = 200;

/** Checks a destination name (1 to 200 characters, trimmed). */
export function validateDestinationName(v: unknown): string {
  const s = typeof v === "string" ? v.trim() : "";
  if (s.length < 1 || s.length > DESTINATION_NAME_MAX || /[\0-\x1f]/.test(s))
    throw new CairnError("BAD_REQUEST", `A destination name has 1 to ${DESTINATION_NAME_MAX} printable characters`, { details: { field: "destinationName" } });
  return s;
}

/**
 * Inserts a destination in `tx` (CONFLICT for a name in use). When it is the authority's very
 * first destination, it is offered system-wide (the top-level org's destinations group) with
 * auto-start. Returns the destination and whether the offers changed.
 */
export async function insertDestination(
  tx: StoreWriter,
  settings: SettingsService,
  p: Principal,
  input: { name: string; kind: "cluster" | "provider" },
  now: number,
): Promise<{ destination: Destination; offeredSystemWide: boolean; topOrgId: number | null }> {
  if ((await tx.getDestinationByName(input.name)) !== undefined) throw new CairnError("CONFLICT", "A destination with that name exists already");
  const first = (await tx.listDestinationRecords(true)).length === 0;
  const destination = await tx.insertDestination({ destinationGuid: newGuid(), name: input.name, kind: input.kind, createdAt: now });
  const top = await tx.getTopLevelOrg();
  let offered = false;
  if (first && top !== undefined) {
    const current = (await settings.resolveOrg(top, tx)).values.destinations.offers;
    const keys = await settings.apply(
      tx,
      SYSTEM_PRINCIPAL,
      top,
      { groups: { destinations: { values: { offers: [...current, { destinationGuid: destination.destinationGuid, autoStart: true }] } } } },
      now,
    );
    if (keys.length > 0) await tx.updateOrg(top.orgId, {}, now);
    offered = true;
  }
  await tx.appendAudit(
    auditEntry(
      p,
      now,
      "destination.create",
      { type: "destination", id: destination.destinationId, orgId: null },
      {
        name: input.name,
        kind: input.kind,
        offeredSystemWide: offered,
      },
    ),
  );
  return { destination, offeredSystemWide: offered, topOrgId: top?.orgId ?? null };
}

/** Drops `destinationGuid` from every org's own offers (a removed destination); returns the orgs changed. */
export async function dropOffers(tx: StoreWriter, destinationGuid: string, now: number): Promise<number[]> {
  const changed: number[] = [];
  for (const { orgId, values } of await tx.destinationGroups()) {
    const offers = Array.isArray(values.offers) ? (values.offers as { destinationGuid?: unknown }[]) : [];
    if (!offers.some((o) => o.destinationGuid === destinationGuid)) continue;
    await tx.putSettingsGroup(orgId, "destinations", { ...values, offers: offers.filter((o) => o.destinationGuid !== destinationGuid) }, now);
    await tx.updateOrg(orgId, {}, now);
    changed.push(orgId);
  }
  return changed;
}
