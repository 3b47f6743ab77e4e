/**
 * The Actions menu of organization details (seed 001 item f) and its dialogs. Which actions are
 * offered follows the seed: Add user and Add child organization not for deactivated orgs; Change
 * parent not for the top-level or deactivated orgs; Activate / Deactivate not for the top level.
 */
import { useState } from "preact/hooks";
import { ApiError } from "../api/client.js";
import { access, currentUser } from "../api/session.js";
import { activateOrg, changeParent, deactivateOrg, emailBackupReport, renameOrg, upgradeClients } from "../api/orgs.js";
import type { Org } from "../api/types.js";
import { createUser } from "../api/users.js";
import { count } from "../format.js";
import { navigate } from "../router.js";
import { Dialog } from "../ui/dialog.js";
import { Select, TextField } from "../ui/forms.js";
import { Menu, type MenuItem } from "../ui/menu.js";
import { OrgPicker } from "../ui/org-picker.js";
import { notify } from "../ui/status.js";
import { CreateOrgDialog, orgNameProblem } from "./org-create.js";

type Open = "rename" | "user" | "child" | "parent" | "toggle" | "upgrade" | "report" | null;

/**
 * Which actions an org offers (seed 001 f). `ownTop`: the org is the top of what the signed-in
 * administrator can see (their own org, without a role over every org), so moving or deactivating
 * it is no more available than for the top-level org.
 */
export function orgActionIds(org: Org, ownTop = false): string[] {
  const top = org.parentOrgId === null || ownTop;
  const ids = ["rename"];
  if (org.active) ids.push("add-user", "add-child");
  if (!top && org.active) ids.push("change-parent");
  if (!top) ids.push(org.active ? "deactivate" : "activate");
  ids.push("edit-info", "device-defaults", "upgrade-clients", "email-report");
  return ids;
}

/** The Actions menu button with its dialogs. */
export function OrgActions({ org, recipients, onChanged }: { org: Org; recipients: string[]; onChanged: () => void }) {
  const [open, setOpen] = useState<Open>(null);
  const close = () => setOpen(null);
  const labels: Record<string, [string, () => void]> = {
    rename: ["Edit organization name", () => setOpen("rename")],
    "add-user": ["Add user", () => setOpen("user")],
    "add-child": ["Add child organization", () => setOpen("child")],
    "change-parent": ["Change parent organization", () => setOpen("parent")],
    deactivate: ["Deactivate", () => setOpen("toggle")],
    activate: ["Activate", () => setOpen("toggle")],
    "edit-info": ["Edit organization info", () => navigate(`/orgs/${org.orgId}/info`)],
    "device-defaults": ["Device backup defaults", () => navigate(`/orgs/${org.orgId}/device-defaults`)],
    "upgrade-clients": ["Upgrade clients", () => setOpen("upgrade")],
    "email-report": ["Email backup report", () => setOpen("report")],
  };
  const ownTop = !access.value.allOrgs && currentUser.value?.orgId === org.orgId;
  const items: MenuItem[] = orgActionIds(org, ownTop).map((id) => {
    const [label, run] = labels[id] as [string, () => void];
    return id === "deactivate" ? { id, label, run, danger: true } : { id, label, run };
  });
  return (
    <>
      <Menu label="Actions" items={items} testId="org-actions" />
      {open === "rename" && <RenameDialog org={org} onClose={close} onDone={onChanged} />}
      {open === "user" && <AddUserDialog org={org} onClose={close} onDone={onChanged} />}
      {open === "child" && <CreateOrgDialog defaultParent={org} fixedParent={org} onClose={close} onCreated={onChanged} />}
      {open === "parent" && <ChangeParentDialog org={org} onClose={close} onDone={onChanged} />}
      {open === "toggle" && <ToggleDialog org={org} onClose={close} onDone={onChanged} />}
      {open === "upgrade" && (
        <Dialog
          title="Upgrade clients"
          submitLabel="Upgrade"
          onClose={close}
          onSubmit={async () => {
            const r = await upgradeClients(org.orgId);
            // what was actually offered: no imported package, or no device connected to hear it, is said as such
            if (r.offeredVersion === null || r.offeredVersion === undefined)
              notify(
                `No agent package is imported on this authority: the ${count(r.deviceCount)} devices of ${org.orgName} were not offered an upgrade.`,
                "error",
              );
            else
              notify(
                `Agent ${r.offeredVersion} offered to ${count(r.notifiedDevices)} connected devices of ${org.orgName} (of ${count(r.deviceCount)}); the others get it when they connect.`,
              );
          }}
        >
          <p>
            Update the Cairn agent on all devices in <strong>{org.orgName}</strong> to the most recent available version. This does not affect child
            organizations.
          </p>
        </Dialog>
      )}
      {open === "report" && <ReportDialog org={org} recipients={recipients} onClose={close} />}
    </>
  );
}

function RenameDialog({ org, onClose, onDone }: { org: Org; onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState(org.orgName);
  return (
    <Dialog
      title="Edit organization name"
      testId="rename-dialog"
      onClose={onClose}
      onSubmit={async () => {
        const problem = orgNameProblem(name);
        if (problem) throw new Error(problem);
        await renameOrg(org.orgId, name.trim());
        notify(`Renamed to ${name.trim()}.`);
        onDone();
      }}
    >
      <TextField label="Organization name" value={name} onInput={setName} required minLength={3} maxLength={220} />
    </Dialog>
  );
}

function AddUserDialog({ org, onClose, onDone }: { org: Org; onClose: () => void; onDone: () => void }) {
  const [f, setF] = useState({ username: "", email: "", firstName: "", lastName: "", password: "" });
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const orNull = (s: string) => (s.trim() ? s.trim() : null);
  return (
    <Dialog
      title={`Add user to ${org.orgName}`}
      submitLabel="Add user"
      testId="add-user-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (f.password && f.password.length < 8) throw new Error("Passwords have at least 8 characters.");
        const u = await createUser({
          orgUid: org.orgUid,
          username: f.username.trim(),
          email: orNull(f.email),
          password: f.password || null,
          firstName: orNull(f.firstName),
          lastName: orNull(f.lastName),
          notes: null,
        });
        notify(`Added user ${u.username}.`);
        onDone();
      }}
    >
      <TextField label="Username" value={f.username} onInput={set("username")} required autoComplete="off" />
      <TextField label="Email" type="email" value={f.email} onInput={set("email")} />
      <TextField label="First name" value={f.firstName} onInput={set("firstName")} />
      <TextField label="Last name" value={f.lastName} onInput={set("lastName")} />
      <TextField
        label="Password"
        type="password"
        value={f.password}
        onInput={set("password")}
        autoComplete="new-password"
        hint="At least 8 characters. Leave empty: the user cannot sign in until a password is set."
      />
    </Dialog>
  );
}

function ChangeParentDialog({ org, onClose, onDone }: { org: Org; onClose: () => void; onDone: () => void }) {
  const [parent, setParent] = useState<Org | null>(null);
  return (
    <Dialog
      title="Change parent organization"
      testId="change-parent-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (!parent) throw new Error("Select the new parent organization.");
        await changeParent(org.orgId, parent.orgId);
        notify(`${org.orgName} is now a child of ${parent.orgName}.`);
        onDone();
      }}
    >
      <p>
        Select the new parent for <strong>{org.orgName}</strong>. Its child organizations move with it.
      </p>
      <OrgPicker label="New parent organization" value={parent} onChange={setParent} excludeSubtree={org.orgId} />
    </Dialog>
  );
}

function ToggleDialog({ org, onClose, onDone }: { org: Org; onClose: () => void; onDone: () => void }) {
  const deactivate = org.active;
  return (
    <Dialog
      title={`${deactivate ? "Deactivate" : "Activate"} ${org.orgName}?`}
      submitLabel={deactivate ? "Deactivate" : "Activate"}
      danger={deactivate}
      testId="toggle-org-dialog"
      onClose={onClose}
      onSubmit={async () => {
        await (deactivate ? deactivateOrg(org.orgId) : activateOrg(org.orgId));
        notify(`${org.orgName} is ${deactivate ? "deactivated" : "active again"}.`);
        onDone();
      }}
    >
      {deactivate ? (
        <p>
          Its child organizations, users and devices are deactivated too: users cannot sign in, backups stop, and their archives move to cold storage until they
          are purged. You can activate it again before then.
        </p>
      ) : (
        <p>
          The organization, and the child organizations, users and devices its deactivation deactivated, become active again. Backups resume when the agents
          reconnect.
        </p>
      )}
    </Dialog>
  );
}

function ReportDialog({ org, recipients, onClose }: { org: Org; recipients: string[]; onClose: () => void }) {
  const [to, setTo] = useState(recipients.join(", "));
  const [days, setDays] = useState<"1" | "7" | "14" | "30">("7");
  return (
    <Dialog
      title="Email backup report"
      submitLabel="Send"
      testId="email-report-dialog"
      onClose={onClose}
      onSubmit={async () => {
        const list = to
          .split(/[\s,;]+/)
          .map((s) => s.trim())
          .filter(Boolean);
        const bad = list.find((a) => !/^[^@\s]+@[^@\s]+$/.test(a));
        if (bad) throw new Error(`Not an email address: ${bad}`);
        try {
          const r = await emailBackupReport(org.orgId, list.length > 0 ? list : null, Number(days));
          notify(`Backup report of ${org.orgName} (${count(r.devices)} devices) sent to ${r.recipients.join(", ")}.`);
        } catch (e) {
          if (e instanceof ApiError && e.status === 503) throw new Error("The authority cannot send email: no SMTP server is configured (--smtp-url).");
          throw e;
        }
      }}
    >
      <TextField
        label="Email addresses"
        value={to}
        onInput={setTo}
        hint="Separate addresses with commas. Leave empty to send it to the organization's report recipients."
      />
      <Select
        label="Period"
        value={days}
        onChange={setDays}
        options={[
          { value: "1", label: "Last day" },
          { value: "7", label: "Last 7 days" },
          { value: "14", label: "Last 14 days" },
          { value: "30", label: "Last 30 days" },
        ]}
      />
    </Dialog>
  );
}
