/** Tabs (WAI-ARIA tabs pattern) whose selection lives in the URL (`?tab=`). */
import type { ComponentChildren } from "preact";

/** One tab. */
export interface TabDef {
  id: string;
  label: string;
}

/** The tab list; `onSelect` changes the URL, the caller renders the panel. */
export function Tabs({ tabs, current, onSelect, label }: { tabs: TabDef[]; current: string; onSelect: (id: string) => void; label: string }) {
  const onKey = (e: KeyboardEvent, i: number) => {
    let j = i;
    if (e.key === "ArrowRight") j = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = tabs.length - 1;
    else return;
    e.preventDefault();
    const t = tabs[j];
    if (t) {
      onSelect(t.id);
      requestAnimationFrame(() => document.getElementById(`tab-${t.id}`)?.focus());
    }
  };
  return (
    <div role="tablist" aria-label={label} class="tabs">
      {tabs.map((t, i) => (
        <button
          key={t.id}
          id={`tab-${t.id}`}
          type="button"
          role="tab"
          aria-selected={t.id === current}
          aria-controls={`panel-${t.id}`}
          tabIndex={t.id === current ? 0 : -1}
          class={t.id === current ? "tab active" : "tab"}
          onClick={() => onSelect(t.id)}
          onKeyDown={(e) => onKey(e, i)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** The panel of the current tab. */
export function TabPanel({ id, children }: { id: string; children: ComponentChildren }) {
  return (
    <div role="tabpanel" id={`panel-${id}`} aria-labelledby={`tab-${id}`} class="tab-panel">
      {children}
    </div>
  );
}
