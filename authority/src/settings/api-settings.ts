/**
 * The org object's `settings` (API.md §5.2): effective values in the platform's field names and
 * units, with the inheritance flag of each group, and the reverse: a PUT body's `settings` read
 * by §5.5's three rules into a {@link SettingsChange}. Pure.
 */
import { isDeepStrictEqual } from "node:util";
import { CairnError, type KeyPolicy } from "@cairn/protocol";
import type { DestinationSummary } from "../db/records.js";
import type { ResolvedSettings } from "./resolve.js";
import { type DestinationOffer, type FieldSpec, type GroupName, SETTINGS_SCHEMA } from "./schema.js";
import type { GroupChange, PacketChange } from "./settings-service.js";

/** Key policy ⇄ the platform's `securityKeyType`. */
export const SECURITY_KEY_TYPES: Record<KeyPolicy, string> = { escrow: "AccountPassword", password: "PrivatePassword", custom: "CustomKey" };

function policyOf(v: unknown): KeyPolicy {
  for (const [k, t] of Object.entries(SECURITY_KEY_TYPES)) if (v === t || v === k) return k as KeyPolicy;
  throw new CairnError("BAD_REQUEST", "securityKeyType must be AccountPassword, PrivatePassword or CustomKey");
}

/** A destination as the settings list it. */
export function destinationJson(d: DestinationSummary): Record<string, unknown> {
  return { destinationId: d.destinationId, guid: d.destinationGuid, destinationName: d.name, type: d.kind === "provider" ? "PROVIDER" : "CLUSTER" };
}

/** The per-key `general` fields shown in `settings`. */
const GENERAL_FIELDS = ["usernameIsAnEmail", "defaultRoles", "autoOfferSelf", "allowLocalFolders", "autoCreateUsers"] as const;

const QUOTA_FIELDS = Object.keys(SETTINGS_SCHEMA.quota.fields);
const REPORTING_FIELDS = Object.keys(SETTINGS_SCHEMA.reporting.fields);

/** Builds the `settings` object of an org. */
export function settingsJson(r: ResolvedSettings, destinations: readonly DestinationSummary[]): Record<string, unknown> {
  const v = r.values;
  const offered = v.destinations.offers
    .map((o) => destinations.find((d) => d.destinationGuid === o.destinationGuid))
    .filter((d): d is DestinationSummary => d !== undefined);
  return {
    ...v.quota,
    isUsingQuotaDefaults: r.inherits.quota,
    ...v.reporting,
    isUsingReportingDefaults: r.inherits.reporting,
    destinations: offered.map(destinationJson),
    allDestinations: destinations.filter((d) => d.active).map(destinationJson),
    isUsingDestinationDefaults: r.inherits.destinations,
    isUsingDeviceDefaults: r.inherits.device,
    securityKeyType: SECURITY_KEY_TYPES[v.security.keyPolicy],
    securityKeyLocked: r.lockedBy["security.keyPolicy"] !== undefined || r.ownLocks.includes("security.keyPolicy"),
    securityKeyInherit: r.inherits.security,
    twoFactorRequired: v.security.twoFactorRequired,
    clientVisibility: v.security.clientVisibility,
    ...Object.fromEntries(GENERAL_FIELDS.map((f) => [f, v.general[f]])),
  };
}

function flag(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v)) return v.toLowerCase() === "true";
  throw new CairnError("BAD_REQUEST", "inheritance flags are true or false");
}

/**
 * §5.5's rules for one group: flag false → override with the body; flag true and nothing
 * differs → inherit; flag true but a field differs → an edit: override.
 */
function groupChange(group: GroupName, flagValue: boolean | undefined, parsed: Record<string, unknown>, r: ResolvedSettings): GroupChange | undefined {
  const current = (r.values as unknown as Record<string, Record<string, unknown>>)[group] ?? {};
  const differs = Object.entries(parsed).some(([k, v]) => !isDeepStrictEqual(v, current[k]));
  if (flagValue === false) return { values: parsed };
  if (flagValue === true && !differs) return r.inherits[group] ? undefined : { inherit: true };
  return differs ? { values: parsed } : undefined;
}

function parseFields(group: GroupName, body: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const fields = SETTINGS_SCHEMA[group].fields as Record<string, FieldSpec<unknown>>;
  const out: Record<string, unknown> = {};
  for (const n of names) if (body[n] !== undefined && body[n] !== null) out[n] = (fields[n] as FieldSpec<unknown>).parse(body[n], `settings.${n}`);
  return out;
}

/** Reads the `settings` of a whole-object PUT into group and per-key changes. */
export function changeFromSettingsJson(
  body: Record<string, unknown>,
  r: ResolvedSettings,
  destinations: readonly DestinationSummary[],
): { groups: Partial<Record<GroupName, GroupChange>>; packets: PacketChange[]; locks: Record<string, boolean> } {
  const groups: Partial<Record<GroupName, GroupChange>> = {};
  const q = groupChange("quota", flag(body.isUsingQuotaDefaults), parseFields("quota", body, QUOTA_FIELDS), r);
  if (q) groups.quota = q;
  const rep = groupChange("reporting", flag(body.isUsingReportingDefaults), parseFields("reporting", body, REPORTING_FIELDS), r);
  if (rep) groups.reporting = rep;

  const sec: Record<string, unknown> = parseFields("security", body, ["twoFactorRequired", "clientVisibility"]);
  if (body.securityKeyType !== undefined && body.securityKeyType !== null) sec.keyPolicy = policyOf(body.securityKeyType);
  const s = groupChange("security", flag(body.securityKeyInherit), sec, r);
  if (s) groups.security = s;
  const locks: Record<string, boolean> = {};
  const wantLock = flag(body.securityKeyLocked);
  if (wantLock !== undefined && r.lockedBy["security.keyPolicy"] === undefined && wantLock !== r.ownLocks.includes("security.keyPolicy"))
    locks["security.keyPolicy"] = wantLock;

  if (Array.isArray(body.destinations)) {
    const prev = new Map(r.values.destinations.offers.map((o) => [o.destinationGuid, o]));
    const offers: DestinationOffer[] = body.destinations.map((d, i) => {
      const guid = String((d as Record<string, unknown> | null)?.guid ?? "");
      if (!destinations.some((x) => x.destinationGuid === guid)) throw new CairnError("BAD_REQUEST", `settings.destinations[${i}]: no destination ${guid}`);
      return prev.get(guid) ?? { destinationGuid: guid, autoStart: true };
    });
    const same = isDeepStrictEqual(offers.map((o) => o.destinationGuid).sort(), r.values.destinations.offers.map((o) => o.destinationGuid).sort());
    const d = groupChange("destinations", flag(body.isUsingDestinationDefaults), { offers: same ? r.values.destinations.offers : offers }, r);
    if (d) groups.destinations = d;
  } else {
    const d = groupChange("destinations", flag(body.isUsingDestinationDefaults), {}, r);
    if (d) groups.destinations = d;
  }

  const packets: PacketChange[] = [];
  const general = parseFields("general", body, GENERAL_FIELDS);
  for (const [k, v] of Object.entries(general)) {
    if (!isDeepStrictEqual(v, (r.values.general as unknown as Record<string, unknown>)[k])) packets.push({ key: `general.${k}`, value: v });
  }
  return { groups, packets, locks };
}
