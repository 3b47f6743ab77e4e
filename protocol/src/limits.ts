/**
 * Format and protocol constants, with units in their names. Changing a value that is part of the
 * format (chunk sizes, key sizes) is a format change: bump the format version and the vectors.
 */

/** Largest WebSocket message on the data channel (agent ⇄ storage node): one sealed block plus headers. */
export const MAX_DATA_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest WebSocket message on the control channels. */
export const MAX_CONTROL_FRAME_BYTES = 8 * 1024 * 1024;
/** Most ids in one have/get request. */
export const MAX_IDS_PER_REQUEST = 8192;
/** Most file entries in one stage-files request. */
export const MAX_FILES_PER_STAGE = 2000;
/** Longest string field in a message, unless a field says otherwise. */
export const MAX_STRING_CHARS = 4096;
/** Deepest nesting a decoded message may have. */
export const MAX_MESSAGE_DEPTH = 16;
/** Most elements of any array in a message. */
export const MAX_ARRAY_ITEMS = 100_000;

/** Content-defined chunking: smallest chunk (except a file's last). Chosen by measurement: docs/design.md. */
export const CHUNK_MIN_BYTES = 256 * 1024;
/** Content-defined chunking: target average chunk size. */
export const CHUNK_AVG_BYTES = 1024 * 1024;
/** Content-defined chunking: largest chunk. */
export const CHUNK_MAX_BYTES = 4 * 1024 * 1024;

/** Largest sealed block: max chunk, plus header and tag, plus compression's worst-case growth. */
export const MAX_SEALED_BLOCK_BYTES = CHUNK_MAX_BYTES + 64 * 1024;
/** Largest sealed metadata object (file metadata, manifests). */
export const MAX_SEALED_META_BYTES = 1024 * 1024;

/** Device storage tokens last 7 days by default (DECISIONS.md); agents renew long before. */
export const STORAGE_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** An unauthenticated socket is closed after this long. */
export const AUTH_DEADLINE_MS = 10_000;
/** WebSocket ping interval; a peer that misses two pongs is dropped. */
export const HEARTBEAT_INTERVAL_MS = 15_000;
/** An archive's writer lease lasts this long on server time unless renewed. */
export const LEASE_TTL_MS = 60_000;
