/**
 * SQL for organizations: reads, the tree (materialized paths), block and deactivation cascades.
 */
import type { Org, NewOrg } from "../records.js";
import type { OrgFilter, OrgReads, OrgWrites, Page, PageResult } from "../store.js";
import { fromBool, idList, likeSubstring, type SqlRunner, scopeParams, subtreeRange, toBool } from "./runner.js";

interface OrgRow {
  org_id: number;
  org_uid: string;
  org_guid: string;
  parent_id: number | null;
  path: string;
  depth: number;
  name: string;
  ext_ref: string | null;
  notes: string | null;
  org_type: string;
  classification: string;
  registration_key: string;
  active: number;
  blocked: number;
  deactivated_by_org_id: number | null;
  created_at: number;
  modified_at: number;
  deactivated_at: number | null;
}

/**
 * How the registration key is kept in `orgs.registration_key`: sealed under a key outside the
 * database (RELIABILITY.md §6.10, T26: lookups go by `registration_key_hash`, and the API still
 * shows the key to administrators). Without a codec (store tests, tools) it is stored as given.
 */
export interface SecretCodec {
  seal(plain: string): string;
  open(stored: string): string;
  /** Whether a stored value is sealed already (one written before sealing is sealed at open). */
  isSealed(stored: string): boolean;
}

const PLAIN: SecretCodec = { seal: (x) => x, open: (x) => x, isSealed: () => true };

/** Seals the registration keys a store kept in the clear before (run once at open, idempotent). */
export function sealStoredRegistrationKeys(q: SqlRunner, codec: SecretCodec): number {
  const rows = q.all<{ org_id: number; registration_key: string }>("SELECT org_id, registration_key FROM orgs");
  let n = 0;
  for (const r of rows) {
    if (codec.isSealed(r.registration_key)) continue;
    q.run("UPDATE orgs SET registration_key = ? WHERE org_id = ?", codec.seal(r.registration_key), r.org_id);
    n++;
  }
  return n;
}

function toOrg(r: OrgRow, codec: SecretCodec): Org {
  return {
    orgId: r.org_id,
    orgUid: r.org_uid,
    orgGuid: r.org_guid,
    parentId: r.parent_id,
    path: r.path,
    depth: r.depth,
    name: r.name,
    extRef: r.ext_ref,
    notes: r.notes,
    type: r.org_type,
    classification: r.classification,
    registrationKey: codec.open(r.registration_key),
    active: toBool(r.active),
    blocked: toBool(r.blocked),
    deactivatedByOrgId: r.deactivated_by_org_id,
    createdAt: r.created_at,
    modifiedAt: r.modified_at,
    deactivatedAt: r.deactivated_at,
  };
}

/** Ids on a path, root first: "/1/5/9/" → [1, 5, 9]. */
export function pathIds(path: string): number[] {
  return path
    .split("/")
    .filter((s) => s !== "")
    .map(Number);
}

/** Organization queries on one connection. */
export class SqliteOrgQueries implements OrgReads, OrgWrites {
  constructor(
    private readonly q: SqlRunner,
    private readonly codec: SecretCodec = PLAIN,
  ) {}

  async getOrg(orgId: number): Promise<Org | undefined> {
    const r = this.q.get<OrgRow>(
      "SELECT org_id, org_uid, org_guid, parent_id, path, depth, name, ext_ref, notes, org_type, classification, registration_key, active, blocked, deactivated_by_org_id, created_at, modified_at, deactivated_at FROM orgs WHERE org_id = ?",
      orgId,
    );
    return r && toOrg(r, this.codec);
  }

  async getOrgByUid(orgUid: string): Promise<Org | undefined> {
    const r = this.q.get<OrgRow>(
      "SELECT org_id, org_uid, org_guid, parent_id, path, depth, name, ext_ref, notes, org_type, classification, registration_key, active, blocked, deactivated_by_org_id, created_at, modified_at, deactivated_at FROM orgs WHERE org_uid = ?",
      orgUid,
    );
    return r && toOrg(r, this.codec);
  }

  async getTopLevelOrg(): Promise<Org | undefined> {
    const r = this.q.get<OrgRow>(
      "SELECT org_id, org_uid, org_guid, parent_id, path, depth, name, ext_ref, notes, org_type, classification, registration_key, active, blocked, deactivated_by_org_id, created_at, modified_at, deactivated_at FROM orgs WHERE parent_id IS NULL",
    );
    return r && toOrg(r, this.codec);
  }

  async getOrgByRegistrationKeyHash(hash: string): Promise<Org | undefined> {
    const r = this.q.get<OrgRow>(
      "SELECT org_id, org_uid, org_guid, parent_id, path, depth, name, ext_ref, notes, org_type, classification, registration_key, active, blocked, deactivated_by_org_id, created_at, modified_at, deactivated_at FROM orgs WHERE registration_key_hash = ?",
      hash,
    );
    return r && toOrg(r, this.codec);
  }

  async getOrgs(orgIds: readonly number[]): Promise<Org[]> {
    const rows = this.q.all<OrgRow>(
      "SELECT o.org_id, o.org_uid, o.org_guid, o.parent_id, o.path, o.depth, o.name, o.ext_ref, o.notes, o.org_type, o.classification, o.registration_key, o.active, o.blocked, o.deactivated_by_org_id, o.created_at, o.modified_at, o.deactivated_at FROM json_each(?) j JOIN orgs o ON o.org_id = j.value ORDER BY j.key",
      idList(orgIds),
    );
    return rows.map((r) => toOrg(r, this.codec));
  }

  async listOrgs(filter: OrgFilter, page: Page): Promise<PageResult<Org>> {
    const p = {
      ...scopeParams(filter.scope),
      active: filter.active === undefined ? null : fromBool(filter.active),
      q: filter.q === undefined ? null : likeSubstring(filter.q),
      parentId: filter.parentId ?? null,
      ...(filter.excludeSubtree === undefined ? { exLo: null, exHi: null } : (({ lo, hi }) => ({ exLo: lo, exHi: hi }))(subtreeRange(filter.excludeSubtree))),
      limit: page.limit,
      offset: page.offset,
    };
    const total = this.q.get<{ n: number }>(
      "SELECT count(*) AS n FROM orgs WHERE path >= @lo AND path < @hi AND (@scopeOrgId IS NULL OR org_id = @scopeOrgId) AND (@active IS NULL OR active = @active) AND (@q IS NULL OR lower(name) LIKE @q ESCAPE '\\') AND (@parentId IS NULL OR parent_id = @parentId) AND (@exLo IS NULL OR path < @exLo OR path >= @exHi)",
      { lo: p.lo, hi: p.hi, scopeOrgId: p.scopeOrgId, active: p.active, q: p.q, parentId: p.parentId, exLo: p.exLo, exHi: p.exHi },
    );
    const rows = this.q.all<OrgRow>(
      "SELECT org_id, org_uid, org_guid, parent_id, path, depth, name, ext_ref, notes, org_type, classification, registration_key, active, blocked, deactivated_by_org_id, created_at, modified_at, deactivated_at FROM orgs WHERE path >= @lo AND path < @hi AND (@scopeOrgId IS NULL OR org_id = @scopeOrgId) AND (@active IS NULL OR active = @active) AND (@q IS NULL OR lower(name) LIKE @q ESCAPE '\\') AND (@parentId IS NULL OR parent_id = @parentId) AND (@exLo IS NULL OR path < @exLo OR path >= @exHi) ORDER BY CASE WHEN @dir = 'asc' THEN CASE @sort WHEN 'orgName' THEN lower(name) WHEN 'status' THEN CASE active WHEN 1 THEN 'Active' ELSE 'Deactivated' END WHEN 'userCount' THEN (SELECT count(*) FROM users u WHERE u.org_id = orgs.org_id AND u.active = 1) WHEN 'computerCount' THEN (SELECT count(*) FROM devices d WHERE d.org_id = orgs.org_id AND d.active = 1) ELSE org_id END END ASC, CASE WHEN @dir = 'desc' THEN CASE @sort WHEN 'orgName' THEN lower(name) WHEN 'status' THEN CASE active WHEN 1 THEN 'Active' ELSE 'Deactivated' END WHEN 'userCount' THEN (SELECT count(*) FROM users u WHERE u.org_id = orgs.org_id AND u.active = 1) WHEN 'computerCount' THEN (SELECT count(*) FROM devices d WHERE d.org_id = orgs.org_id AND d.active = 1) ELSE org_id END END DESC, org_id ASC LIMIT @limit OFFSET @offset",
      { ...p, sort: filter.sort?.key ?? "orgId", dir: filter.sort?.dir ?? "asc" },
    );
    return { total: total?.n ?? 0, items: rows.map((r) => toOrg(r, this.codec)) };
  }

  async listSubtree(path: string): Promise<Org[]> {
    const { lo, hi } = subtreeRange(path);
    const rows = this.q.all<OrgRow>(
      "SELECT org_id, org_uid, org_guid, parent_id, path, depth, name, ext_ref, notes, org_type, classification, registration_key, active, blocked, deactivated_by_org_id, created_at, modified_at, deactivated_at FROM orgs WHERE path >= ? AND path < ? ORDER BY path",
      lo,
      hi,
    );
    return rows.map((r) => toOrg(r, this.codec));
  }

  async orgChainState(path: string): Promise<{ blocked: boolean; deactivated: boolean }> {
    const r = this.q.get<{ blocked: number | null; inactive: number | null }>(
      "SELECT max(o.blocked) AS blocked, max(1 - o.active) AS inactive FROM json_each(?) j JOIN orgs o ON o.org_id = j.value",
      idList(pathIds(path)),
    );
    return { blocked: r?.blocked === 1, deactivated: r?.inactive === 1 };
  }

  async insertOrg(org: NewOrg): Promise<Org> {
    const parent = org.parentId === null ? undefined : await this.getOrg(org.parentId);
    const r = this.q.run(
      "INSERT INTO orgs (org_uid, org_guid, parent_id, path, depth, name, ext_ref, notes, registration_key, registration_key_hash, created_at, modified_at) VALUES (@orgUid, @orgGuid, @parentId, @tmpPath, @depth, @name, @extRef, @notes, @registrationKey, @registrationKeyHash, @createdAt, @createdAt)",
      {
        orgUid: org.orgUid,
        orgGuid: org.orgGuid,
        parentId: org.parentId,
        tmpPath: `pending:${org.orgUid}`,
        depth: parent === undefined ? 0 : parent.depth + 1,
        name: org.name,
        extRef: org.extRef,
        notes: org.notes,
        registrationKey: this.codec.seal(org.registrationKey),
        registrationKeyHash: org.registrationKeyHash,
        createdAt: org.createdAt,
      },
    );
    const id = r.lastInsertRowid;
    this.q.run("UPDATE orgs SET path = ? WHERE org_id = ?", `${parent?.path ?? "/"}${id}/`, id);
    const created = await this.getOrg(id);
    if (created === undefined) throw new Error("inserted org vanished");
    return created;
  }

  async updateOrg(orgId: number, patch: { name?: string; extRef?: string | null; notes?: string | null }, at: number): Promise<void> {
    this.q.run(
      "UPDATE orgs SET name = CASE WHEN @setName THEN @name ELSE name END, ext_ref = CASE WHEN @setExtRef THEN @extRef ELSE ext_ref END, notes = CASE WHEN @setNotes THEN @notes ELSE notes END, modified_at = @at WHERE org_id = @orgId",
      {
        orgId,
        at,
        setName: fromBool(patch.name !== undefined),
        name: patch.name ?? null,
        setExtRef: fromBool(patch.extRef !== undefined),
        extRef: patch.extRef ?? null,
        setNotes: fromBool(patch.notes !== undefined),
        notes: patch.notes ?? null,
      },
    );
  }

  async setOrgBlocked(orgId: number, blocked: boolean, at: number): Promise<void> {
    this.q.run("UPDATE orgs SET blocked = ?, modified_at = ? WHERE org_id = ?", fromBool(blocked), at, orgId);
  }

  async setRegistrationKey(orgId: number, key: string, keyHash: string, at: number): Promise<void> {
    this.q.run("UPDATE orgs SET registration_key = ?, registration_key_hash = ?, modified_at = ? WHERE org_id = ?", this.codec.seal(key), keyHash, at, orgId);
  }

  async deactivateOrgs(path: string, byOrgId: number, at: number): Promise<number[]> {
    const { lo, hi } = subtreeRange(path);
    const rows = this.q.all<{ org_id: number }>(
      "UPDATE orgs SET active = 0, deactivated_at = @at, modified_at = @at, deactivated_by_org_id = CASE WHEN org_id = @byOrgId THEN NULL ELSE @byOrgId END WHERE path >= @lo AND path < @hi AND active = 1 RETURNING org_id",
      { lo, hi, byOrgId, at },
    );
    return rows.map((r) => r.org_id);
  }

  async reactivateOrgs(orgId: number, at: number): Promise<number[]> {
    const rows = this.q.all<{ org_id: number }>(
      "UPDATE orgs SET active = 1, deactivated_at = NULL, deactivated_by_org_id = NULL, modified_at = @at WHERE active = 0 AND (org_id = @orgId OR deactivated_by_org_id = @orgId) RETURNING org_id",
      { orgId, at },
    );
    return rows.map((r) => r.org_id);
  }

  async moveOrg(orgId: number, newParent: Org, at: number): Promise<void> {
    const org = await this.getOrg(orgId);
    if (org === undefined) return;
    const { lo, hi } = subtreeRange(org.path);
    const newPath = `${newParent.path}${orgId}/`;
    this.q.run("UPDATE orgs SET path = @newPath || substr(path, length(@oldPath) + 1), depth = depth + @depthDelta WHERE path >= @lo AND path < @hi", {
      newPath,
      oldPath: org.path,
      depthDelta: newParent.depth + 1 - org.depth,
      lo,
      hi,
    });
    this.q.run("UPDATE orgs SET parent_id = ?, modified_at = ? WHERE org_id = ?", newParent.orgId, at, orgId);
  }
}
