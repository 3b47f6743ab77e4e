/**
 * A menu button (WAI-ARIA menu pattern): the button toggles a `role="menu"` list; arrow keys move
 * between items, Escape (wherever the focus is) closes and returns focus to the button, Enter or
 * click runs an item.
 */
import { useLayoutEffect, useRef, useState } from "preact/hooks";

/** One item. */
export interface MenuItem {
  id: string;
  label: string;
  run: () => void;
  danger?: boolean;
}

/** The menu button and its list. `label` names the menu; `text`, when given, is the button's shorter visible text (a row's "Actions", with the label as its accessible name). */
export function Menu({ label, items, testId, text }: { label: string; items: MenuItem[]; testId?: string; text?: string }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLDivElement>(null);
  const focusItem = (i: number) => {
    const els = list.current?.querySelectorAll<HTMLElement>("[role=menuitem]");
    if (!els || els.length === 0) return;
    els[(i + els.length) % els.length]?.focus();
  };
  // A layout effect: the listeners are in place when the open menu is committed, not a frame
  // later, so an Escape pressed right after the click that opened the menu is not lost (a useEffect
  // runs after paint, and on a loaded machine the key arrived first; the device-actions browser
  // test timed out that way).
  useLayoutEffect(() => {
    if (!open) return;
    focusItem(0);
    const away = (e: MouseEvent) => {
      if (!(e.target instanceof Node) || (!list.current?.contains(e.target) && !button.current?.contains(e.target))) setOpen(false);
    };
    // Escape closes the menu wherever the focus is (a re-render of the page behind it can take
    // the focus off the items, and the list's own handler would then never see the key).
    const onEscape = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      setOpen(false);
      button.current?.focus();
    };
    document.addEventListener("mousedown", away);
    document.addEventListener("keydown", onEscape);
    return () => {
      document.removeEventListener("mousedown", away);
      document.removeEventListener("keydown", onEscape);
    };
  }, [open]);
  const onKey = (e: KeyboardEvent) => {
    const els = Array.from(list.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? []);
    const i = els.indexOf(document.activeElement as HTMLElement);
    if (e.key === "ArrowDown") focusItem(i + 1);
    else if (e.key === "ArrowUp") focusItem(i - 1);
    else if (e.key === "Home") focusItem(0);
    else if (e.key === "End") focusItem(els.length - 1);
    else if (e.key === "Tab") setOpen(false);
    else return;
    e.preventDefault();
  };
  const menuId = `menu-${label.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <div class="menu">
      <button
        ref={button}
        type="button"
        class="btn"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={menuId}
        aria-label={text === undefined ? undefined : label}
        data-testid={testId}
        onClick={() => setOpen(!open)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        {text ?? label} <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div ref={list} id={menuId} role="menu" aria-label={label} class="menu-list" onKeyDown={onKey}>
          {items.map((it) => (
            <button
              key={it.id}
              type="button"
              role="menuitem"
              tabIndex={-1}
              class={it.danger ? "menu-item danger" : "menu-item"}
              data-testid={`action-${it.id}`}
              onClick={() => {
                setOpen(false);
                it.run();
              }}
            >
              {it.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
