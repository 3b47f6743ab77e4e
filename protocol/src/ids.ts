/**
 * Branded identifiers. Parse at the boundary (`parseX` throws BAD_REQUEST), never cast inside.
 *
 * - GUIDs and UIDs (org, user, device, archive, destination, server) are strings of 18 decimal
 *   digits with a non-zero first digit, as the platform API uses (API.md §1.4).
 * - Block ids are 32-byte keyed hashes (HMAC-SHA-256), shown as 64 lowercase hex characters.
 * - File ids are 16-byte keyed hashes of a path, shown as 32 hex characters.
 * - Session and job ids are opaque URL-safe strings.
 */
import { randomBytes } from "node:crypto";
import { CairnError } from "./errors.js";

declare const brand: unique symbol;
/** A nominal type over a primitive. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type OrgUid = Brand<string, "OrgUid">;
export type UserUid = Brand<string, "UserUid">;
export type DeviceGuid = Brand<string, "DeviceGuid">;
export type ArchiveGuid = Brand<string, "ArchiveGuid">;
export type DestinationGuid = Brand<string, "DestinationGuid">;
export type ServerGuid = Brand<string, "ServerGuid">;
export type TenantId = Brand<string, "TenantId">;
export type BlockId = Brand<string, "BlockId">;
export type FileId = Brand<string, "FileId">;
export type SessionId = Brand<string, "SessionId">;
export type JobId = Brand<string, "JobId">;

/** Decimal GUID pattern: 18 digits, first non-zero (older ids may be 6-20 digits long). */
export const GUID_PATTERN = /^[1-9][0-9]{5,19}$/;
/** 64 lowercase hex characters. */
export const BLOCK_ID_PATTERN = /^[0-9a-f]{64}$/;
/** 32 lowercase hex characters. */
export const FILE_ID_PATTERN = /^[0-9a-f]{32}$/;
/** Opaque ids: URL-safe base64 alphabet, 8 to 64 characters. */
export const OPAQUE_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** A fresh 18-digit decimal GUID from 64 random bits. */
export function newGuid(): string {
  const n = randomBytes(8).readBigUInt64BE() % 900_000_000_000_000_000n;
  return (n + 100_000_000_000_000_000n).toString();
}

/** A fresh opaque id (22 URL-safe characters, 128 random bits). */
export function newOpaqueId(): string {
  return randomBytes(16).toString("base64url");
}

function parser<T extends string>(what: string, pattern: RegExp) {
  return (v: unknown): T => {
    if (typeof v === "number" && Number.isSafeInteger(v)) v = String(v);
    if (typeof v !== "string" || !pattern.test(v)) {
      throw new CairnError("BAD_REQUEST", `invalid ${what}`, { details: { field: what } });
    }
    return v as T;
  };
}

export const parseOrgUid = parser<OrgUid>("orgUid", GUID_PATTERN);
export const parseUserUid = parser<UserUid>("userUid", GUID_PATTERN);
export const parseDeviceGuid = parser<DeviceGuid>("deviceGuid", GUID_PATTERN);
export const parseArchiveGuid = parser<ArchiveGuid>("archiveGuid", GUID_PATTERN);
export const parseDestinationGuid = parser<DestinationGuid>("destinationGuid", GUID_PATTERN);
export const parseServerGuid = parser<ServerGuid>("serverGuid", GUID_PATTERN);
export const parseTenantId = parser<TenantId>("tenantId", GUID_PATTERN);
export const parseBlockId = parser<BlockId>("blockId", BLOCK_ID_PATTERN);
export const parseFileId = parser<FileId>("fileId", FILE_ID_PATTERN);
export const parseSessionId = parser<SessionId>("sessionId", OPAQUE_ID_PATTERN);
export const parseJobId = parser<JobId>("jobId", OPAQUE_ID_PATTERN);

/** True when `v` is a well-formed decimal GUID. */
export function isGuid(v: unknown): v is string {
  return typeof v === "string" && GUID_PATTERN.test(v);
}

/** Block id bytes (32) → hex id. */
export function blockIdFromBytes(b: Uint8Array): BlockId {
  if (b.length !== 32) throw new CairnError("BAD_REQUEST", "block id must be 32 bytes");
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex") as BlockId;
}

/** Hex block id → 32 bytes. */
export function blockIdToBytes(id: BlockId): Buffer {
  return Buffer.from(id, "hex");
}

/** File id bytes (16) → hex id. */
export function fileIdFromBytes(b: Uint8Array): FileId {
  if (b.length !== 16) throw new CairnError("BAD_REQUEST", "file id must be 16 bytes");
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex") as FileId;
}

/** Splits a buffer of concatenated 32-byte ids into hex block ids. */
export function splitBlockIds(concat: Uint8Array): BlockId[] {
  if (concat.length % 32 !== 0) throw new CairnError("PROTOCOL_MALFORMED", "block id list length is not a multiple of 32");
  const out: BlockId[] = [];
  const b = Buffer.from(concat.buffer, concat.byteOffset, concat.byteLength);
  for (let o = 0; o < b.length; o += 32) out.push(b.toString("hex", o, o + 32) as BlockId);
  return out;
}

/** Concatenates hex block ids into one buffer of 32-byte ids. */
export function joinBlockIds(ids: readonly BlockId[]): Buffer {
  const out = Buffer.allocUnsafe(ids.length * 32);
  ids.forEach((id, i) => {
    out.write(id, i * 32, 32, "hex");
  });
  return out;
}
