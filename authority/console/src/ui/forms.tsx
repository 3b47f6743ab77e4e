/** Form controls with their labels: text and number fields, switches, "unlimited" numbers, locks. */
import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";
import { LockIcon, UnlockIcon } from "./icons.js";

/** A labelled text input. */
export function TextField(p: {
  label: string;
  value: string;
  onInput: (v: string) => void;
  type?: "text" | "email" | "password" | "search" | "date";
  hint?: string;
  required?: boolean;
  disabled?: boolean;
  minLength?: number;
  maxLength?: number;
  autoComplete?: string;
  name?: string;
  inputMode?: "numeric" | "text";
  pattern?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <input
        id={id}
        name={p.name}
        // Preact types `type` as a discriminated union; the runtime accepts every value here.
        type={(p.type ?? "text") as "text"}
        value={p.value}
        required={p.required}
        disabled={p.disabled}
        minLength={p.minLength}
        maxLength={p.maxLength}
        autoComplete={p.autoComplete}
        inputMode={p.inputMode}
        pattern={p.pattern}
        aria-describedby={p.hint ? `${id}-hint` : undefined}
        onInput={(e) => p.onInput(e.currentTarget.value)}
      />
      {p.hint && (
        <p class="hint" id={`${id}-hint`}>
          {p.hint}
        </p>
      )}
    </div>
  );
}

/** A labelled multi-line input. */
export function TextArea(p: { label: string; value: string; onInput: (v: string) => void; hint?: string; disabled?: boolean; rows?: number }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <textarea id={id} rows={p.rows ?? 3} value={p.value} disabled={p.disabled} onInput={(e) => p.onInput(e.currentTarget.value)} />
      {p.hint && <p class="hint">{p.hint}</p>}
    </div>
  );
}

/** A labelled integer input. */
export function NumberField(p: {
  label: string;
  value: number;
  onInput: (v: number) => void;
  unit?: string;
  min?: number;
  max?: number;
  disabled?: boolean;
  hint?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <span class="with-unit">
        <input
          id={id}
          type="number"
          value={Number.isFinite(p.value) ? String(p.value) : ""}
          min={p.min}
          max={p.max}
          disabled={p.disabled}
          onInput={(e) => p.onInput(Number.parseInt(e.currentTarget.value, 10))}
        />
        {p.unit && <span class="unit">{p.unit}</span>}
      </span>
      {p.hint && <p class="hint">{p.hint}</p>}
    </div>
  );
}

/** An integer where -1 means unlimited: a number input and an "Unlimited" checkbox. */
export function LimitField(p: {
  label: string;
  value: number;
  onInput: (v: number) => void;
  unit: string;
  disabled?: boolean;
  hint?: string;
  fallback?: number;
}) {
  const id = useId();
  const unlimited = p.value < 0;
  return (
    <fieldset class="field limit" disabled={p.disabled}>
      <legend>{p.label}</legend>
      <span class="with-unit">
        <input
          id={id}
          type="number"
          min={0}
          aria-label={`${p.label} (${p.unit})`}
          value={unlimited ? "" : String(p.value)}
          disabled={p.disabled || unlimited}
          onInput={(e) => p.onInput(Number.parseInt(e.currentTarget.value || "0", 10))}
        />
        <span class="unit">{p.unit}</span>
        <label class="inline">
          <input type="checkbox" checked={unlimited} onChange={(e) => p.onInput(e.currentTarget.checked ? -1 : (p.fallback ?? 0))} />
          Unlimited
        </label>
      </span>
      {p.hint && <p class="hint">{p.hint}</p>}
    </fieldset>
  );
}

/** A switch (a checkbox with `role="switch"`) with its label. */
export function Switch(p: { label: string; checked: boolean; onChange: (v: boolean) => void; disabled?: boolean; hint?: ComponentChildren; testId?: string }) {
  const id = useId();
  return (
    <div class="field switch-field">
      <span class="switch">
        <input
          id={id}
          type="checkbox"
          role="switch"
          aria-checked={p.checked}
          checked={p.checked}
          disabled={p.disabled}
          data-testid={p.testId}
          onChange={(e) => p.onChange(e.currentTarget.checked)}
        />
        <label for={id}>{p.label}</label>
      </span>
      {p.hint && <p class="hint">{p.hint}</p>}
    </div>
  );
}

/** A labelled select. */
export function Select<V extends string>(p: {
  label: string;
  value: V;
  options: { value: V; label: string; disabled?: boolean }[];
  onChange: (v: V) => void;
  disabled?: boolean;
  hint?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <select id={id} value={p.value} disabled={p.disabled} onChange={(e) => p.onChange(e.currentTarget.value as V)}>
        {p.options.map((o) => (
          <option key={o.value} value={o.value} disabled={o.disabled}>
            {o.label}
          </option>
        ))}
      </select>
      {p.hint && <p class="hint">{p.hint}</p>}
    </div>
  );
}

/** A toggle for locking a setting for child organizations (shown next to lockable settings). */
export function LockToggle(p: { label: string; locked: boolean; onChange: (v: boolean) => void; disabled?: boolean }) {
  return (
    <button
      type="button"
      class={p.locked ? "lock locked" : "lock"}
      aria-pressed={p.locked}
      aria-label={`Lock ${p.label} for child organizations`}
      title={p.locked ? "Locked: child organizations cannot change this" : "Unlocked: child organizations may change this"}
      disabled={p.disabled}
      onClick={() => p.onChange(!p.locked)}
    >
      {p.locked ? <LockIcon /> : <UnlockIcon />} {p.locked ? "Locked" : "Lock"}
    </button>
  );
}

/** A read-only "Locked by <org>" badge. */
export function LockedBadge({ by }: { by: string }) {
  return (
    <span class="badge badge-lock" data-testid="locked-badge">
      <LockIcon /> Locked by {by}
    </span>
  );
}

/** A definition list of label/value pairs for detail screens. */
export function Facts({ items }: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {items.map(([k, v]) => (
        <div key={k} class="fact">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
