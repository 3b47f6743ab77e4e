/**
 * The configuration of `cairn storenode serve`: every key once, with its default and reason,
 * resolved by the protocol's `resolveConfig` with the precedence flags > `CAIRN_*` environment >
 * TOML file (`--config FILE`) > defaults. `--print-default-config` prints the commented file;
 * `--check-config` validates and shows where each value came from; a bad value exits 78.
 */
import { type ConfigKey, DAY_MS } from "@cairn/protocol";

/** The keys of `serve`. */
export const SERVE_CONFIG: readonly ConfigKey[] = [
  { key: "data", type: "string", flag: "data", required: true, doc: "Data directory made by `cairn storenode init`." },
  { key: "server.host", type: "string", flag: "host", default: "0.0.0.0", doc: "Address to listen on." },
  {
    key: "server.port",
    type: "int",
    flag: "port",
    default: 443,
    min: 0,
    max: 65535,
    doc: "Port. 443 by default (DECISIONS.md); if 443 cannot be bound, serve exits unless a port is set.\n0 picks a free port and logs it.",
  },
  {
    key: "server.urls",
    type: "strings",
    flag: "url",
    doc: "wss URLs announced to authorities and put in provider keys (default: the init URLs, else wss://HOST:PORT).",
  },
  {
    key: "server.metrics_address",
    type: "string",
    flag: "metricsAddress",
    doc: "HOST:PORT of a separate plain-HTTP listener for /metrics (default: on the main listener).",
  },
  {
    key: "storage.reserve",
    type: "bytes",
    flag: "reserveBytes",
    default: 256 * 1024 * 1024,
    doc: "Free space kept on each store point so that maintenance and purges can always run;\nblocks past it are refused with DESTINATION_FULL.",
  },
  { key: "gc.grace", type: "duration", flag: "gcGrace", default: DAY_MS, doc: "A block unreferenced for less than this (server time) is never collected." },
  { key: "maintenance.schedule", type: "string", default: "0 3 * * *", doc: "Cron expression for maintenance (prune, collect, compact); empty disables it." },
  {
    key: "maintenance.verify_schedule",
    type: "string",
    default: "0 4 * * 0",
    doc: "Cron expression for maintenance with verification of every block; empty disables it.",
  },
  { key: "authority.connect", type: "bool", flag: "authority", default: true, doc: "Dial the own authority when the node is enrolled." },
];
