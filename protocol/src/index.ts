/**
 * @packageDocumentation
 * `@cairn/protocol`: everything the agent, the storage node and the authority must agree on, and
 * nothing that touches a socket, a file or a database.
 *
 * Vocabulary:
 * - **archive**: one device's backup on one destination; identified by an 18-digit GUID.
 * - **block** (chunk): a content-defined piece of a file, sealed (compressed, encrypted) on the
 *   device and identified by a keyed hash (HMAC-SHA-256) the storage side cannot recompute.
 * - **version**: one committed backup of an archive (sequence number `seq`); each file version
 *   belongs to the version that wrote it.
 * - **channel**: one of the three WebSocket links (data, agent control, node control), each a
 *   symmetric RPC over MessagePack frames.
 *
 * Modules: `errors` (the registry), `ids`, `clock`, `limits`, `version`, `schema` (runtime
 * validation), `codec` (frames), `rpc` (a transport-agnostic peer), `messages/*` (the channels),
 * `chunker` (FastCDC), `crypto` (keys, ids, sealing, wrapping), `compress`, `objects` (sealed file
 * metadata and manifests), `token` (signed tokens), `secrets`, `retention` (the pure pruning
 * policy), `settings` defaults shared by agent and authority.
 */
export * from "./errors.js";
export * from "./ids.js";
export * from "./clock.js";
export * from "./limits.js";
export * from "./version.js";
export * as s from "./schema.js";
export type { Infer, Schema } from "./schema.js";
export * from "./codec.js";
export * from "./rpc.js";
export * from "./messages/common.js";
export * from "./messages/data.js";
export * from "./messages/agent-control.js";
export * from "./messages/node-control.js";
export * from "./chunker.js";
export * from "./compress.js";
export * from "./crypto.js";
export * from "./sealer.js";
export * from "./objects.js";
export * from "./token.js";
export * from "./secrets.js";
export * from "./regex-safety.js";
export * from "./provider-key.js";
export * from "./retention.js";
export * from "./command.js";
export * from "./config.js";
export * from "./agent-package.js";
