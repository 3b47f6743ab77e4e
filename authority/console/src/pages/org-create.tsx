/** "Create Organization" (from the list, with a parent picker) and "Add child organization". */
import { useState } from "preact/hooks";
import { createOrg } from "../api/orgs.js";
import type { Org } from "../api/types.js";
import { Dialog } from "../ui/dialog.js";
import { TextField } from "../ui/forms.js";
import { OrgPicker } from "../ui/org-picker.js";
import { notify } from "../ui/status.js";

/** Names must have 3 to 220 characters (trimmed), as the authority checks. */
export function orgNameProblem(name: string): string | null {
  const n = name.trim().length;
  if (n < 3) return "Names must contain at least 3 characters.";
  if (n > 220) return "Names may have at most 220 characters.";
  return null;
}

/** The create dialog; `fixedParent` is set when adding a child from the details screen. */
export function CreateOrgDialog(p: { defaultParent: Org | null; fixedParent?: Org; onClose: () => void; onCreated: (o: Org) => void }) {
  const [name, setName] = useState("");
  const [parent, setParent] = useState<Org | null>(p.fixedParent ?? p.defaultParent);
  return (
    <Dialog
      title={p.fixedParent ? `Add child organization to ${p.fixedParent.orgName}` : "Create organization"}
      submitLabel="Create"
      testId="create-org-dialog"
      onClose={p.onClose}
      onSubmit={async () => {
        const problem = orgNameProblem(name);
        if (problem) throw new Error(problem);
        if (!parent) throw new Error("Select the parent organization.");
        const o = await createOrg(name.trim(), parent.orgUid);
        notify(`Created organization ${o.orgName}.`);
        p.onCreated(o);
      }}
    >
      <TextField label="Organization name" value={name} onInput={setName} required minLength={3} maxLength={220} hint="3 to 220 characters." />
      {p.fixedParent ? (
        <p>
          Parent organization: <strong>{p.fixedParent.orgName}</strong>
        </p>
      ) : (
        <OrgPicker label="Parent organization" value={parent} onChange={setParent} />
      )}
    </Dialog>
  );
}
