/** Small inline SVG icons (no icon font, no emoji font needed); decorative, hidden from screen readers. */

import type { ComponentChildren } from "preact";

function Svg({ children }: { children: ComponentChildren }) {
  return (
    <svg width={14} height={14} viewBox="0 0 16 16" aria-hidden="true" focusable="false" class="icon">
      {children}
    </svg>
  );
}

/** A closed padlock. */
export function LockIcon() {
  return (
    <Svg>
      <rect x="3" y="7" width="10" height="8" rx="1.5" fill="currentColor" />
      <path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="1.8" />
    </Svg>
  );
}

/** An open padlock. */
export function UnlockIcon() {
  return (
    <Svg>
      <rect x="3" y="7" width="10" height="8" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.5" />
      <path d="M5 7V5a3 3 0 0 1 5.8-1" fill="none" stroke="currentColor" stroke-width="1.5" />
    </Svg>
  );
}

/** A funnel. */
export function FilterIcon() {
  return (
    <Svg>
      <path d="M1.5 2h13l-5 6v5l-3 1.5V8z" fill="currentColor" />
    </Svg>
  );
}

/** A folder. */
export function FolderIcon() {
  return (
    <Svg>
      <path d="M1 3.5h5l1.5 1.5H15v8.5H1z" fill="#d9a400" />
    </Svg>
  );
}

/** A file. */
export function FileIcon() {
  return (
    <Svg>
      <path d="M3 1h6.5L13 4.5V15H3z" fill="none" stroke="#5b6876" stroke-width="1.3" />
    </Svg>
  );
}

/** A warning triangle. */
export function WarningIcon() {
  return (
    <Svg>
      <path d="M8 1 15.5 14.5H.5z" fill="#b42318" />
      <path d="M8 5.5v4.5M8 11.5v1.5" stroke="#fff" stroke-width="1.6" />
    </Svg>
  );
}
