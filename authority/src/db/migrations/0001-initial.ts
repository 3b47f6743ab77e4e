/**
 * Migration 1: the whole schema of the authority (issue 5): organizations and their settings,
 * users, roles, credentials, sessions and API tokens, the audit log, and, for devices and
 * storage, devices and their tokens, destinations, servers, store points, enroll and provider
 * keys, archives with their wrapped archive keys, user keys, cold storage, revocations, restore
 * history and legal holds.
 *
 * Conventions: plural snake_case tables, STRICT, times in epoch milliseconds, booleans 0/1,
 * numeric ids `INTEGER PRIMARY KEY AUTOINCREMENT` (never reused: API.md §1.4), 18-digit decimal
 * uids/guids as TEXT. Secrets are never stored in clear: hashes of tokens and keys, wrapped keys.
 */
import type { Migration } from "./migration.js";

/** The standard roles of API.md §3, with the role ids the API reports (stable forever). */
export const STANDARD_ROLES: readonly (readonly [number, string])[] = [
  [1, "SYSADMIN"],
  [2, "Customer Cloud Admin"],
  [3, "Org Admin"],
  [4, "Cross Org Admin"],
  [5, "Org Manager"],
  [6, "Cross Org Manager"],
  [7, "Org Legal Admin"],
  [8, "Cross Org Legal Admin"],
  [9, "Admin Restore"],
  [10, "Admin Restore Limited"],
  [11, "Desktop User"],
  [12, "PROe User"],
];

const SCHEMA = `
CREATE TABLE authority_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE orgs (
  org_id INTEGER PRIMARY KEY AUTOINCREMENT,
  org_uid TEXT NOT NULL UNIQUE,
  org_guid TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES orgs(org_id),
  -- '/1/5/9/': the ids from the top-level org down to this one; subtree = path prefix range
  path TEXT NOT NULL UNIQUE,
  depth INTEGER NOT NULL,
  name TEXT NOT NULL,
  ext_ref TEXT,
  notes TEXT,
  org_type TEXT NOT NULL DEFAULT 'ENTERPRISE',
  classification TEXT NOT NULL DEFAULT 'BASIC',
  -- returned by the platform API in the org object, so kept as-is; looked up by its hash and
  -- compared in constant time
  registration_key TEXT NOT NULL UNIQUE,
  registration_key_hash TEXT NOT NULL UNIQUE,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
  -- the org whose deactivation cascaded here (NULL: deactivated itself, or active)
  deactivated_by_org_id INTEGER REFERENCES orgs(org_id),
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  deactivated_at INTEGER,
  CHECK ((parent_id IS NULL) = (depth = 0))
) STRICT;
CREATE INDEX orgs_parent ON orgs(parent_id);
CREATE UNIQUE INDEX orgs_one_top_level ON orgs((parent_id IS NULL)) WHERE parent_id IS NULL;

-- An org that overrides a whole settings group (quota, reporting, security, device, destinations)
CREATE TABLE org_setting_groups (
  org_id INTEGER NOT NULL REFERENCES orgs(org_id),
  group_name TEXT NOT NULL,
  values_json TEXT NOT NULL CHECK (json_valid(values_json)),
  modified_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, group_name)
) STRICT, WITHOUT ROWID;

-- Per-key settings (general fields and /api/OrgSetting packets, unknown keys verbatim)
CREATE TABLE org_setting_packets (
  org_id INTEGER NOT NULL REFERENCES orgs(org_id),
  key TEXT NOT NULL,
  value_json TEXT NOT NULL CHECK (json_valid(value_json)),
  modified_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, key)
) STRICT, WITHOUT ROWID;

-- A lock set at an org: its descendants keep this org's effective value of the key
CREATE TABLE org_setting_locks (
  org_id INTEGER NOT NULL REFERENCES orgs(org_id),
  key TEXT NOT NULL,
  locked_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
  user_id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_uid TEXT NOT NULL UNIQUE,
  org_id INTEGER NOT NULL REFERENCES orgs(org_id),
  username TEXT NOT NULL,
  -- NFC + lower case: usernames are unique case-insensitively (API.md §3)
  username_key TEXT NOT NULL UNIQUE,
  email TEXT,
  first_name TEXT,
  last_name TEXT,
  notes TEXT,
  ext_ref TEXT,
  quota_bytes INTEGER NOT NULL DEFAULT -1,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
  invited INTEGER NOT NULL DEFAULT 0 CHECK (invited IN (0, 1)),
  deactivated_by_org_id INTEGER REFERENCES orgs(org_id),
  -- bumped by password change, block, deactivation and sign-out-everywhere: older tokens die
  auth_version INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  deactivated_at INTEGER,
  last_login_at INTEGER
) STRICT;
CREATE INDEX users_org ON users(org_id, user_id);

CREATE TABLE user_credentials (
  user_id INTEGER PRIMARY KEY REFERENCES users(user_id),
  password_hash TEXT,
  password_changed_at INTEGER
) STRICT;

CREATE TABLE user_totp (
  user_id INTEGER PRIMARY KEY REFERENCES users(user_id),
  -- the TOTP secret sealed with AES-256-GCM under a key derived from the escrow KEK
  secret_sealed BLOB NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'active')),
  created_at INTEGER NOT NULL,
  activated_at INTEGER
) STRICT;

-- Which TOTP time steps a user has spent, and from where (DECISIONS.md reuse rule)
CREATE TABLE totp_uses (
  user_id INTEGER NOT NULL REFERENCES users(user_id),
  time_step INTEGER NOT NULL,
  source TEXT NOT NULL,
  uses INTEGER NOT NULL,
  first_used_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, time_step)
) STRICT, WITHOUT ROWID;

CREATE TABLE roles (
  role_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE user_roles (
  user_id INTEGER NOT NULL REFERENCES users(user_id),
  role_id INTEGER NOT NULL REFERENCES roles(role_id),
  granted_by_user_id INTEGER REFERENCES users(user_id),
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, role_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_roles_role ON user_roles(role_id, user_id);

-- Console sessions: the cookie value and the CSRF token are stored only as SHA-256
CREATE TABLE sessions (
  session_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(user_id),
  csrf_hash TEXT NOT NULL,
  auth_version INTEGER NOT NULL,
  enroll_only INTEGER NOT NULL DEFAULT 0 CHECK (enroll_only IN (0, 1)),
  source TEXT,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- Long-lived API tokens for scripts (Bearer cna_…), stored as SHA-256
CREATE TABLE api_tokens (
  token_id INTEGER PRIMARY KEY AUTOINCREMENT,
  token_hash TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(user_id),
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- The user key (UK) of each user and how it is kept (docs/architecture.md "Keys")
CREATE TABLE user_keys (
  user_id INTEGER PRIMARY KEY REFERENCES users(user_id),
  key_policy TEXT NOT NULL CHECK (key_policy IN ('escrow', 'password', 'custom')),
  key_version INTEGER NOT NULL DEFAULT 1,
  escrow_wrapped BLOB,
  password_wrapped BLOB,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_log (
  audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'system', 'device', 'node')),
  actor_user_id INTEGER,
  actor_username TEXT,
  source TEXT,
  request_id TEXT,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied')),
  target_type TEXT,
  target_id TEXT,
  -- the org the target belongs to: who may read the entry
  org_id INTEGER,
  details_json TEXT CHECK (details_json IS NULL OR json_valid(details_json))
) STRICT;
CREATE INDEX audit_log_org ON audit_log(org_id, audit_id);
CREATE INDEX audit_log_at ON audit_log(at);

-- ---------------------------------------------------------------- storage (part B)
CREATE TABLE destinations (
  destination_id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination_guid TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('cluster', 'provider')),
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
) STRICT;

CREATE TABLE servers (
  server_id INTEGER PRIMARY KEY AUTOINCREMENT,
  server_guid TEXT NOT NULL UNIQUE,
  destination_id INTEGER NOT NULL REFERENCES destinations(destination_id),
  name TEXT NOT NULL,
  urls_json TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(urls_json)),
  fingerprint TEXT,
  -- own nodes: SHA-256 of the node secret (cnn_…)
  node_secret_hash TEXT UNIQUE,
  -- provider nodes: this authority's tenant there and its secret, sealed (we present it)
  provider_tenant_id TEXT,
  provider_secret_sealed BLOB,
  quota_bytes INTEGER NOT NULL DEFAULT -1,
  node_version TEXT,
  state TEXT NOT NULL DEFAULT 'ok',
  last_seen_at INTEGER,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
) STRICT;
CREATE INDEX servers_destination ON servers(destination_id);

CREATE TABLE store_points (
  store_point_id INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id INTEGER NOT NULL REFERENCES servers(server_id),
  node_store_point_id INTEGER,
  name TEXT NOT NULL,
  total_bytes INTEGER NOT NULL DEFAULT 0,
  free_bytes INTEGER NOT NULL DEFAULT 0,
  accepting_new INTEGER NOT NULL DEFAULT 1 CHECK (accepting_new IN (0, 1)),
  accepting_data INTEGER NOT NULL DEFAULT 1 CHECK (accepting_data IN (0, 1)),
  updated_at INTEGER NOT NULL,
  UNIQUE (server_id, name)
) STRICT;

-- One-time keys with which a storage node enrolls into a destination (cne_…, SHA-256 only)
CREATE TABLE enroll_keys (
  enroll_key_id INTEGER PRIMARY KEY AUTOINCREMENT,
  key_hash TEXT NOT NULL UNIQUE,
  destination_id INTEGER NOT NULL REFERENCES destinations(destination_id),
  created_by_user_id INTEGER REFERENCES users(user_id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_by_server_id INTEGER REFERENCES servers(server_id)
) STRICT;

-- Provider keys this authority redeemed (destinations hosted by another operator)
CREATE TABLE provider_keys (
  provider_key_id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination_id INTEGER NOT NULL REFERENCES destinations(destination_id),
  key_hash TEXT NOT NULL UNIQUE,
  provider_url TEXT NOT NULL,
  provider_fingerprint TEXT NOT NULL,
  redeemed_at INTEGER NOT NULL,
  redeemed_by_user_id INTEGER REFERENCES users(user_id)
) STRICT;

CREATE TABLE devices (
  device_id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_guid TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(user_id),
  name TEXT NOT NULL,
  os_hostname TEXT,
  os_name TEXT CHECK (os_name IS NULL OR os_name IN ('linux', 'mac', 'win')),
  os_version TEXT,
  os_arch TEXT,
  agent_version TEXT,
  time_zone TEXT,
  address TEXT,
  remote_address TEXT,
  ext_ref TEXT,
  notes TEXT,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
  deauthorized INTEGER NOT NULL DEFAULT 0 CHECK (deauthorized IN (0, 1)),
  -- cascade bookkeeping: whose deactivation deactivated this device (NULL: its own)
  deactivated_by_user_id INTEGER REFERENCES users(user_id),
  deactivated_by_org_id INTEGER REFERENCES orgs(org_id),
  -- device-level overrides of the device settings (PUT /api/Computer), JSON
  settings_json TEXT CHECK (settings_json IS NULL OR json_valid(settings_json)),
  config_version INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  deactivated_at INTEGER,
  last_connected_at INTEGER,
  login_at INTEGER
) STRICT;
CREATE INDEX devices_user ON devices(user_id, device_id);

CREATE TABLE device_tokens (
  token_hash TEXT PRIMARY KEY,
  device_id INTEGER NOT NULL REFERENCES devices(device_id),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX device_tokens_device ON device_tokens(device_id);

CREATE TABLE device_destination_optins (
  device_id INTEGER NOT NULL REFERENCES devices(device_id),
  destination_id INTEGER NOT NULL REFERENCES destinations(destination_id),
  opted_in INTEGER NOT NULL DEFAULT 1 CHECK (opted_in IN (0, 1)),
  modified_at INTEGER NOT NULL,
  PRIMARY KEY (device_id, destination_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE archives (
  archive_id INTEGER PRIMARY KEY AUTOINCREMENT,
  archive_guid TEXT NOT NULL UNIQUE,
  device_id INTEGER NOT NULL REFERENCES devices(device_id),
  destination_id INTEGER NOT NULL REFERENCES destinations(destination_id),
  store_point_id INTEGER REFERENCES store_points(store_point_id),
  -- the user whose key wraps the archive key (context archive:<userUid>:<archiveGuid>:<v>)
  user_id INTEGER NOT NULL REFERENCES users(user_id),
  wrapped_archive_key BLOB,
  key_version INTEGER NOT NULL DEFAULT 1,
  archive_bytes INTEGER NOT NULL DEFAULT 0,
  selected_files INTEGER NOT NULL DEFAULT 0,
  selected_bytes INTEGER NOT NULL DEFAULT 0,
  todo_files INTEGER NOT NULL DEFAULT 0,
  todo_bytes INTEGER NOT NULL DEFAULT 0,
  version_count INTEGER NOT NULL DEFAULT 0,
  file_count INTEGER NOT NULL DEFAULT 0,
  last_backup_at INTEGER,
  last_completed_backup_at INTEGER,
  last_maintenance_at INTEGER,
  maintenance_duration_ms INTEGER NOT NULL DEFAULT 0,
  compact_bytes_removed INTEGER NOT NULL DEFAULT 0,
  damaged_blocks INTEGER NOT NULL DEFAULT 0,
  reported_at INTEGER,
  purged_at INTEGER,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  UNIQUE (device_id, destination_id)
) STRICT;
CREATE INDEX archives_destination ON archives(destination_id);
CREATE INDEX archives_user ON archives(user_id);

-- An archive in cold storage (row present) until its purge date; cause says whose
-- reactivation brings it back
CREATE TABLE cold_storage (
  archive_id INTEGER PRIMARY KEY REFERENCES archives(archive_id),
  entered_at INTEGER NOT NULL,
  hold_expire_date TEXT NOT NULL CHECK (hold_expire_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  cause TEXT NOT NULL CHECK (cause IN ('device', 'user', 'org', 'move', 'destination')),
  cause_id INTEGER
) STRICT;
CREATE INDEX cold_storage_expire ON cold_storage(hold_expire_date);

-- Revocations the storage nodes must honour (docs/architecture.md "Identities and credentials")
CREATE TABLE revocations (
  revocation_id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('device', 'user')),
  guid TEXT NOT NULL,
  before INTEGER NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('all', 'restore')),
  created_at INTEGER NOT NULL,
  lifted_at INTEGER
) STRICT;
CREATE INDEX revocations_guid ON revocations(guid);

-- Restore history: one row when a job is created and one when it ends (API.md §7.3)
CREATE TABLE restore_events (
  restore_event_id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_uid TEXT NOT NULL UNIQUE,
  job_id TEXT NOT NULL,
  restore_type TEXT NOT NULL CHECK (restore_type IN ('WEB', 'PUSH', 'SERVER')),
  status TEXT NOT NULL CHECK (status IN ('STARTED', 'COMPLETED', 'FAILED', 'CANCELED')),
  source_device_id INTEGER REFERENCES devices(device_id),
  accepting_device_id INTEGER REFERENCES devices(device_id),
  source_user_id INTEGER REFERENCES users(user_id),
  requesting_user_id INTEGER REFERENCES users(user_id),
  org_id INTEGER REFERENCES orgs(org_id),
  num_files INTEGER NOT NULL DEFAULT 0,
  num_bytes INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL,
  completed_at INTEGER,
  event_at INTEGER NOT NULL
) STRICT;
CREATE INDEX restore_events_org ON restore_events(org_id, event_at);

CREATE TABLE legal_hold_policies (
  policy_id INTEGER PRIMARY KEY AUTOINCREMENT,
  policy_uid TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  policy_json TEXT NOT NULL CHECK (json_valid(policy_json)),
  creator_user_id INTEGER REFERENCES users(user_id),
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
) STRICT;

CREATE TABLE legal_holds (
  hold_id INTEGER PRIMARY KEY AUTOINCREMENT,
  hold_uid TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  description TEXT,
  notes TEXT,
  ext_ref TEXT,
  policy_id INTEGER NOT NULL REFERENCES legal_hold_policies(policy_id),
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  creator_user_id INTEGER REFERENCES users(user_id),
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
) STRICT;

CREATE TABLE legal_hold_memberships (
  membership_id INTEGER PRIMARY KEY AUTOINCREMENT,
  membership_uid TEXT NOT NULL UNIQUE,
  hold_id INTEGER NOT NULL REFERENCES legal_holds(hold_id),
  user_id INTEGER NOT NULL REFERENCES users(user_id),
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  UNIQUE (hold_id, user_id)
) STRICT;
CREATE INDEX legal_hold_memberships_user ON legal_hold_memberships(user_id);

CREATE TABLE legal_hold_events (
  event_id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_uid TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL CHECK (event_type IN ('HoldCreated', 'HoldDeactivated', 'HoldReactivated', 'MembershipCreated',
    'MembershipDeactivated', 'MembershipReactivated', 'Restore')),
  event_at INTEGER NOT NULL,
  hold_id INTEGER NOT NULL REFERENCES legal_holds(hold_id),
  membership_id INTEGER REFERENCES legal_hold_memberships(membership_id),
  custodian_user_id INTEGER REFERENCES users(user_id),
  actor_user_id INTEGER REFERENCES users(user_id)
) STRICT;
CREATE INDEX legal_hold_events_hold ON legal_hold_events(hold_id, event_at);
`;

const migration: Migration = {
  version: 1,
  name: "initial",
  up(db, env) {
    db.exec(SCHEMA);
    const insertRole = db.prepare("INSERT INTO roles (role_id, name, created_at) VALUES (?, ?, ?)");
    for (const [id, name] of STANDARD_ROLES) insertRole.run(id, name, env.now);
  },
};

export default migration;
