/**
 * The org object of the platform API (API.md §4), built from records. Pure.
 */
import { isoTime } from "@cairn/protocol";
import type { Org, OrgCounts } from "../db/records.js";

/** Figures the console and CSV show next to the counts. */
export interface OrgFigures {
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  archiveBytes: number;
  warningCount: number;
  criticalCount: number;
}

/** The org object without the `inc` parts. */
export function orgJson(org: Org, parent: Org | undefined, inheritedBlock: boolean): Record<string, unknown> {
  return {
    orgId: org.orgId,
    orgUid: org.orgUid,
    orgGuid: org.orgGuid,
    orgName: org.name,
    orgExtRef: org.extRef,
    notes: org.notes,
    status: org.active ? "Active" : "Deactivated",
    active: org.active,
    blocked: org.blocked,
    inheritedBlock,
    parentOrgId: parent?.orgId ?? null,
    parentOrgUid: parent?.orgUid ?? null,
    parentOrgName: parent?.name ?? null,
    type: org.type,
    classification: org.classification,
    registrationKey: org.registrationKey,
    creationDate: isoTime(org.createdAt),
    modificationDate: isoTime(org.modifiedAt),
    deactivationDate: org.deactivatedAt === null ? null : isoTime(org.deactivatedAt),
  };
}

/** The `incCounts` part (planCount is always 0: Cairn has no plans). */
export function countsJson(c: OrgCounts | undefined, figures: OrgFigures | undefined): Record<string, unknown> {
  return {
    computerCount: c?.computerCount ?? 0,
    backupComputerCount: c?.backupComputerCount ?? 0,
    userCount: c?.userCount ?? 0,
    licensedUserCount: c?.licensedUserCount ?? 0,
    orgCount: c?.orgCount ?? 0,
    planCount: 0,
    ...(figures ?? { selectedFiles: 0, selectedBytes: 0, todoFiles: 0, todoBytes: 0, archiveBytes: 0, warningCount: 0, criticalCount: 0 }),
  };
}
