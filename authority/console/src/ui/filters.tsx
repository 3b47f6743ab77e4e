/** The list filter: a "Filter" button opening a status choice with Apply, and the "Filtered by" chips. */
import { useEffect, useRef, useState } from "preact/hooks";
import { FilterIcon } from "./icons.js";

/** Filter by status: Active (the default) or Deactivated. */
export function StatusFilter({ value, onApply }: { value: "active" | "deactivated"; onApply: (v: "active" | "deactivated") => void }) {
  const [open, setOpen] = useState(false);
  const [choice, setChoice] = useState(value);
  const panel = useRef<HTMLFormElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    setChoice(value);
    panel.current?.querySelector<HTMLInputElement>("input:checked")?.focus();
  }, [open, value]);
  return (
    <div class="popover-anchor">
      <button
        ref={button}
        type="button"
        class="btn"
        aria-expanded={open}
        aria-controls="status-filter"
        data-testid="filter-button"
        onClick={() => setOpen(!open)}
      >
        <FilterIcon /> Filter
      </button>
      {open && (
        <form
          ref={panel}
          id="status-filter"
          class="popover"
          aria-label="Filter by status"
          onKeyDown={(e) => {
            if (e.key === "Escape") {
              setOpen(false);
              button.current?.focus();
            }
          }}
          onSubmit={(e) => {
            e.preventDefault();
            setOpen(false);
            onApply(choice);
          }}
        >
          <fieldset>
            <legend>Status</legend>
            {(["active", "deactivated"] as const).map((v) => (
              <label key={v} class="radio">
                <input type="radio" name="status" value={v} checked={choice === v} onChange={() => setChoice(v)} />
                {v === "active" ? "Active" : "Deactivated"}
              </label>
            ))}
          </fieldset>
          <div class="actions">
            <button type="button" class="btn btn-small" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit" class="btn btn-small btn-primary" data-testid="filter-apply">
              Apply
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

/** One "Filtered by" chip. */
export interface Chip {
  label: string;
  clear: () => void;
}

/** "Filtered by: <chip ✕> …", shown when a non-default filter is applied. */
export function FilterChips({ chips }: { chips: (Chip | null | false | undefined | 0 | "")[] }) {
  const shown = chips.filter((c): c is Chip => !!c);
  if (shown.length === 0) return null;
  return (
    <div class="chips" data-testid="filtered-by">
      <span>Filtered by:</span>
      {shown.map((c) => (
        <span key={c.label} class="chip">
          {c.label}
          <button type="button" aria-label={`Remove filter ${c.label}`} onClick={c.clear} data-testid="chip-clear">
            ✕
          </button>
        </span>
      ))}
    </div>
  );
}
