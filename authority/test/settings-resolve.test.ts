import { deviceSettings } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { toDeviceSettings } from "../src/settings/device-settings.js";
import { type ResolvedSettings, resolveSettings, type SettingsLayer } from "../src/settings/resolve.js";
import { defaultSettings } from "../src/settings/schema.js";

const D = defaultSettings();
const layer = (id: number, over: Partial<Omit<SettingsLayer, "id">> = {}): SettingsLayer => ({ id, groups: {}, packets: {}, locks: [], ...over });
const quota = (q: Partial<typeof D.quota>) => ({ quota: { ...D.quota, ...q } });

interface Case {
  name: string;
  chain: SettingsLayer[];
  want: (r: ResolvedSettings) => void;
}

const ROOT = 1;
const A = 2;
const A1 = 3;
const A1X = 4;

const cases: Case[] = [
  {
    name: "empty chain: the platform defaults",
    chain: [],
    want: (r) => {
      expect(r.values.quota).toEqual({
        maxSeats: -1,
        maxBytes: -1,
        archiveHoldDays: 365,
        defaultUserMaxBytes: -1,
        defaultUserMobileQuota: -1,
        webRestoreUserLimitMb: 250,
        webRestoreAdminLimitMb: 250,
      });
      expect(r.values.reporting.warnInDays).toBe(3);
      expect(r.values.reporting.alertInDays).toBe(5);
      expect(r.values.device.frequencyMs).toBe(15 * 60_000);
      expect(r.values.security.keyPolicy).toBe("escrow");
      expect(r.values.packets.device_webRestore_enabled).toBe("true");
    },
  },
  {
    name: "inherit: a child without overrides takes its parent's values, attributed to the parent",
    chain: [layer(ROOT, { groups: quota({ archiveHoldDays: 100 }) }), layer(A)],
    want: (r) => {
      expect(r.values.quota.archiveHoldDays).toBe(100);
      expect(r.source["quota.archiveHoldDays"]).toBe(ROOT);
      expect(r.inherits.quota).toBe(true);
      expect(r.groupSource.quota).toBe(ROOT);
    },
  },
  {
    name: "inherit through several levels: the nearest override wins",
    chain: [layer(ROOT, { groups: quota({ archiveHoldDays: 100 }) }), layer(A, { groups: quota({ archiveHoldDays: 30 }) }), layer(A1), layer(A1X)],
    want: (r) => {
      expect(r.values.quota.archiveHoldDays).toBe(30);
      expect(r.source["quota.archiveHoldDays"]).toBe(A);
      expect(r.groupSource.quota).toBe(A);
    },
  },
  {
    name: "override: the child's own group replaces the inherited one",
    chain: [layer(ROOT, { groups: quota({ archiveHoldDays: 100 }) }), layer(A, { groups: quota({ archiveHoldDays: 7, webRestoreUserLimitMb: 0 }) })],
    want: (r) => {
      expect(r.values.quota.archiveHoldDays).toBe(7);
      expect(r.values.quota.webRestoreUserLimitMb).toBe(0);
      expect(r.source["quota.archiveHoldDays"]).toBe(A);
      expect(r.inherits.quota).toBe(false);
    },
  },
  {
    name: "lock above an override: the ancestor's value holds, the child's override is ignored",
    chain: [
      layer(ROOT, { groups: quota({ webRestoreUserLimitMb: 0 }), locks: ["quota.webRestoreUserLimitMb"] }),
      layer(A, { groups: quota({ webRestoreUserLimitMb: 500 }) }),
    ],
    want: (r) => {
      expect(r.values.quota.webRestoreUserLimitMb).toBe(0);
      expect(r.source["quota.webRestoreUserLimitMb"]).toBe(ROOT);
      expect(r.lockedBy["quota.webRestoreUserLimitMb"]).toBe(ROOT);
      // other fields of the same group still come from the override
      expect(r.source["quota.archiveHoldDays"]).toBe(A);
    },
  },
  {
    name: "a lock in the middle holds for every level below, and not for the locking org itself",
    chain: [
      layer(ROOT),
      layer(A, { packets: { "packets.device_webRestore_enabled": "false" }, locks: ["packets.device_webRestore_enabled"] }),
      layer(A1),
      layer(A1X, { packets: { "packets.device_webRestore_enabled": "true" } }),
    ],
    want: (r) => {
      expect(r.values.packets.device_webRestore_enabled).toBe("false");
      expect(r.lockedBy["packets.device_webRestore_enabled"]).toBe(A);
      expect(resolveSettings([layer(ROOT), layer(A, { locks: ["packets.x"] })]).lockedBy).toEqual({});
      expect(resolveSettings([layer(ROOT), layer(A, { locks: ["packets.x"] })]).ownLocks).toEqual(["packets.x"]);
    },
  },
  {
    name: "raise-only: a child cannot lower the key policy",
    chain: [
      layer(ROOT, { groups: { security: { ...D.security, keyPolicy: "password" } } }),
      layer(A, { groups: { security: { ...D.security, keyPolicy: "escrow" } } }),
    ],
    want: (r) => {
      expect(r.values.security.keyPolicy).toBe("password");
      expect(r.source["security.keyPolicy"]).toBe(ROOT);
    },
  },
  {
    name: "raise-only: a parent's lock never lowers a key policy a child already raised",
    chain: [
      layer(ROOT, { groups: { security: { ...D.security, keyPolicy: "escrow" } }, locks: ["security.keyPolicy"] }),
      layer(A, { groups: { security: { ...D.security, keyPolicy: "custom" } } }),
    ],
    want: (r) => {
      expect(r.values.security.keyPolicy).toBe("custom");
      expect(r.lockedBy["security.keyPolicy"]).toBe(ROOT);
    },
  },
  {
    name: "raise-only: a child can raise it, and a parent's later raise reaches an overriding child",
    chain: [
      layer(ROOT, { groups: { security: { ...D.security, keyPolicy: "custom" } } }),
      layer(A, { groups: { security: { ...D.security, keyPolicy: "password" } } }),
    ],
    want: (r) => {
      expect(r.values.security.keyPolicy).toBe("custom");
      expect(resolveSettings([layer(ROOT), layer(A, { groups: { security: { ...D.security, keyPolicy: "custom" } } })]).values.security.keyPolicy).toBe(
        "custom",
      );
    },
  },
  {
    name: "cap by parent: a child's maximum user subscriptions never exceed its parent's",
    chain: [layer(ROOT, { groups: quota({ maxSeats: 10 }) }), layer(A, { groups: quota({ maxSeats: 20 }) })],
    want: (r) => {
      expect(r.values.quota.maxSeats).toBe(10);
      expect(r.source["quota.maxSeats"]).toBe(ROOT);
      expect(r.capped).toEqual(["quota.maxSeats"]);
      const within = resolveSettings([layer(ROOT, { groups: quota({ maxSeats: 10 }) }), layer(A, { groups: quota({ maxSeats: 5 }) })]);
      expect(within.values.quota.maxSeats).toBe(5);
      expect(within.capped).toEqual([]);
      const unlimitedChild = resolveSettings([layer(ROOT, { groups: quota({ maxSeats: 10 }) }), layer(A, { groups: quota({ maxSeats: -1 }) })]);
      expect(unlimitedChild.values.quota.maxSeats).toBe(10);
      const unlimitedParent = resolveSettings([layer(ROOT), layer(A, { groups: quota({ maxSeats: 20 }) })]);
      expect(unlimitedParent.values.quota.maxSeats).toBe(20);
    },
  },
  {
    name: "cap by parent applies against the parent's effective (already capped) value",
    chain: [layer(ROOT, { groups: quota({ maxSeats: 10 }) }), layer(A, { groups: quota({ maxSeats: 50 }) }), layer(A1, { groups: quota({ maxSeats: 30 }) })],
    want: (r) => {
      expect(r.values.quota.maxSeats).toBe(10);
    },
  },
  {
    name: "re-enable inheritance drops the override: without its group the child follows its parent again",
    chain: [layer(ROOT, { groups: quota({ archiveHoldDays: 90 }) }), layer(A)],
    want: (r) => {
      const overriding = resolveSettings([layer(ROOT, { groups: quota({ archiveHoldDays: 90 }) }), layer(A, { groups: quota({ archiveHoldDays: 5 }) })]);
      expect(overriding.values.quota.archiveHoldDays).toBe(5);
      expect(r.values.quota.archiveHoldDays).toBe(90);
      expect(r.inherits.quota).toBe(true);
    },
  },
  {
    name: "per-key groups inherit each key on its own",
    chain: [layer(ROOT, { packets: { "general.usernameIsAnEmail": true } }), layer(A, { packets: { "general.defaultRoles": ["PROe User"] } })],
    want: (r) => {
      expect(r.values.general.usernameIsAnEmail).toBe(true);
      expect(r.values.general.defaultRoles).toEqual(["PROe User"]);
      expect(r.source["general.usernameIsAnEmail"]).toBe(ROOT);
      expect(r.source["general.defaultRoles"]).toBe(A);
    },
  },
  {
    name: "unknown packets are kept and inherited verbatim",
    chain: [
      layer(ROOT, { packets: { "packets.org-securityTools-enable": "true" } }),
      layer(A, { packets: { "packets.device_fileForensics_enabled": "false" } }),
    ],
    want: (r) => {
      expect(r.values.packets["org-securityTools-enable"]).toBe("true");
      expect(r.values.packets.device_fileForensics_enabled).toBe("false");
      expect(r.source["packets.org-securityTools-enable"]).toBe(ROOT);
    },
  },
];

describe("resolveSettings: inheritance table", () => {
  it.each(cases)("$name", ({ chain, want }) => {
    want(resolveSettings(chain));
  });

  it("never hands out the schema's default objects (mutating a result changes no later result)", () => {
    const r1 = resolveSettings([layer(ROOT)]);
    r1.values.device.backupSets[0]?.include.push("/etc/");
    r1.values.reporting.recipients.push("x@example.com");
    const r2 = resolveSettings([layer(ROOT)]);
    expect(r2.values.device.backupSets[0]?.include).toEqual([]);
    expect(r2.values.reporting.recipients).toEqual([]);
  });
});

describe("toDeviceSettings", () => {
  it("resolves the defaults to a valid protocol DeviceSettings", () => {
    const r = resolveSettings([layer(ROOT)]);
    const s = toDeviceSettings(r.values, { destinations: [{ destinationGuid: "632540230984925185", active: true }], lockedKeys: new Set() });
    expect(deviceSettings.check(s, "settings", 0)).toEqual(s);
    expect(s.frequencyMs).toBe(900_000);
    expect(s.minutesUntilWarning).toBe(4320);
    expect(s.minutesUntilSevere).toBe(7200);
    expect(s.keyPolicy).toBe("escrow");
    expect(s.backupSets[0]?.destinations).toEqual(["632540230984925185"]);
    expect(s.retention.bands.length).toBeGreaterThan(0);
  });

  it("sends a set to its listed destinations only when they are offered, and honours the selection lock", () => {
    const sets = [
      {
        ...D.device.backupSets[0]!,
        destinations: [
          { guid: "632540230984925185", locked: true },
          { guid: "700000000000000001", locked: false },
        ],
      },
    ];
    const r = resolveSettings([layer(ROOT, { groups: { device: { ...D.device, backupSets: sets } }, locks: ["device.backupSets"] }), layer(A)]);
    const s = toDeviceSettings(r.values, {
      destinations: [{ destinationGuid: "632540230984925185", active: false }],
      lockedKeys: new Set(Object.keys(r.lockedBy)),
    });
    expect(s.backupSets[0]?.destinations).toEqual(["632540230984925185"]);
    expect(s.selectionLocked).toBe(true);
    expect(s.backupSets[0]?.locked).toBe(true);
  });
});
