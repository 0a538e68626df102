// A one-time code input: six digits from an authenticator app (or a recovery code), with the
// hints phones and password managers use to fill it.
export interface CodeFieldProps {
  name: string; // "code" or "recovery_code"
  label: string;
  value: string;
  onValue: (value: string) => void;
  recovery?: boolean; // a recovery code: letters and dashes, not only digits
  autoFocus?: boolean;
  error?: string | null;
  testId?: string;
}

export function CodeField({ name, label, value, onValue, recovery = false, autoFocus, error, testId }: CodeFieldProps) {
  const id = `field-${name}`;
  return (
    <div class={error ? "field has-error" : "field"}>
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        type="text"
        class="code-input"
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
        inputMode={recovery ? "text" : "numeric"}
        autoComplete={recovery ? "off" : "one-time-code"}
        spellcheck={false}
        maxLength={recovery ? 64 : 10}
        placeholder={recovery ? "xxxxx-xxxxx" : "123456"}
        required
        autoFocus={autoFocus}
        aria-invalid={error ? true : undefined}
        data-testid={testId}
      />
      {error && <p class="field-error">{error}</p>}
    </div>
  );
}

// What the person typed, as the server wants it: no spaces (apps show "123 456").
export function cleanCode(value: string): string {
  return value.replace(/\s+/g, "");
}
