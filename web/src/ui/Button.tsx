// The app's buttons: one look per intent, and a busy state that blocks double submits.
import type { ButtonHTMLAttributes, ComponentChildren } from "preact";

export type ButtonVariant = "primary" | "secondary" | "danger" | "ghost" | "ghost-danger";

export interface ButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, "class"> {
  variant?: ButtonVariant;
  busy?: boolean; // disabled, with a spinner, while a request is in flight
  small?: boolean;
  block?: boolean; // full width (forms' main buttons)
  children?: ComponentChildren;
}

export function Button({ variant = "secondary", busy = false, small = false, block = false, type = "button", disabled, children, ...rest }: ButtonProps) {
  const classes = ["btn", `btn-${variant}`, small ? "btn-small" : "", block ? "btn-block" : "", busy ? "is-busy" : ""].filter(Boolean).join(" ");
  return (
    <button type={type} class={classes} disabled={Boolean(disabled) || busy} aria-busy={busy} {...rest}>
      {busy && <span class="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
}
