/**
 * Picks an organization among possibly thousands: a search box (server-side `q`) and a list box
 * of the first matches. Used to choose a parent (create, change parent) or a target (move user).
 */
import { useId, useState } from "preact/hooks";
import { listOrgs } from "../api/orgs.js";
import type { Org } from "../api/types.js";
import { useAsync } from "./async.js";

/**
 * The picker; `exclude` hides an org, `excludeSubtree` an org with all its descendants (an org
 * cannot move under itself or under one of its own children).
 */
export function OrgPicker(p: {
  label: string;
  value: Org | null;
  onChange: (o: Org | null) => void;
  exclude?: number;
  excludeSubtree?: number;
  initial?: Org | null;
}) {
  const id = useId();
  const [q, setQ] = useState("");
  const list = useAsync(
    (signal) => listOrgs({ active: true, q: q.trim() || undefined, excludeSubtreeOf: p.excludeSubtree, pgNum: 1, pgSize: 25, incCounts: false }, signal),
    [q, p.excludeSubtree],
  );
  const options = (list.data?.items ?? []).filter((o) => o.orgId !== p.exclude);
  if (p.value && !options.some((o) => o.orgId === p.value?.orgId)) options.unshift(p.value);
  return (
    <fieldset class="field org-picker">
      <legend>{p.label}</legend>
      <label for={`${id}-q`} class="sr-only">
        Search organizations
      </label>
      <input id={`${id}-q`} type="search" placeholder="Search organizations" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      <label for={`${id}-list`} class="sr-only">
        {p.label}
      </label>
      <select
        id={`${id}-list`}
        size={6}
        value={p.value ? String(p.value.orgId) : ""}
        aria-busy={list.status === "loading"}
        data-testid="org-picker"
        onChange={(e) => p.onChange(options.find((o) => String(o.orgId) === e.currentTarget.value) ?? null)}
      >
        {options.map((o) => (
          <option key={o.orgId} value={String(o.orgId)}>
            {o.orgName}
          </option>
        ))}
      </select>
      {list.status === "error" && <p class="form-error">{list.error}</p>}
      {list.status === "ready" && options.length === 0 && <p class="hint">No active organization matches.</p>}
      {list.data && list.data.totalCount > options.length && <p class="hint">Showing the first {options.length}; type to narrow.</p>}
    </fieldset>
  );
}
