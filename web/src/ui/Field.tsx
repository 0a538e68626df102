// A labelled form input with its hint and its (server or local) error right under it.
export interface FieldProps {
  label: string;
  name: string;
  value: string;
  onValue: (value: string) => void;
  error?: string | null;
  hint?: string;
  type?: "text" | "email" | "password" | "url" | "search";
  autoComplete?: string;
  required?: boolean;
  minLength?: number;
  maxLength?: number;
  placeholder?: string;
  autoFocus?: boolean;
  disabled?: boolean;
}

export function Field({ label, name, value, onValue, error, hint, type = "text", ...rest }: FieldProps) {
  const id = `field-${name}`;
  const described = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div class={error ? "field has-error" : "field"}>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        // Preact types each input `type` separately; any of ours takes the same attributes.
        type={type as "text"}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={described}
        {...rest}
      />
      {hint && !error && (
        <p class="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`} data-testid={`error-${name}`}>
          {error}
        </p>
      )}
    </div>
  );
}

export interface SelectFieldProps {
  label: string;
  name: string;
  value: string;
  onValue: (value: string) => void;
  options: { value: string; label: string }[];
  error?: string | null;
  disabled?: boolean;
}

export function SelectField({ label, name, value, onValue, options, error, disabled }: SelectFieldProps) {
  const id = `field-${name}`;
  return (
    <div class={error ? "field has-error" : "field"}>
      <label for={id}>{label}</label>
      <select id={id} name={name} value={value} disabled={disabled} onChange={(e) => onValue(e.currentTarget.value)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {error && <p class="field-error">{error}</p>}
    </div>
  );
}

export interface TextAreaFieldProps {
  label: string;
  name: string;
  value: string;
  onValue: (value: string) => void;
  error?: string | null;
  rows?: number;
  maxLength?: number;
}

export function TextAreaField({ label, name, value, onValue, error, rows = 3, maxLength }: TextAreaFieldProps) {
  const id = `field-${name}`;
  return (
    <div class={error ? "field has-error" : "field"}>
      <label for={id}>{label}</label>
      <textarea id={id} name={name} rows={rows} maxLength={maxLength} value={value} onInput={(e) => onValue(e.currentTarget.value)} />
      {error && <p class="field-error">{error}</p>}
    </div>
  );
}
