// A form's submit: busy while the request runs, the error (with 422 field errors split out
// for the fields) when it fails. `submit` is the form's onSubmit.
import { useState } from "preact/hooks";
import { fieldErrors } from "../api";

export interface Submit {
  busy: boolean;
  error: unknown; // for an <ErrorBanner>
  fields: Record<string, string>; // field name → reason, from a 422's details
  submit: (event?: Event) => Promise<void>;
  reset: () => void;
}

export function useSubmit(action: () => Promise<unknown>): Submit {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const submit = async (event?: Event) => {
    event?.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setFields({});
    try {
      await action();
    } catch (e) {
      setError(e);
      setFields(fieldErrors(e));
    } finally {
      setBusy(false);
    }
  };
  return {
    busy,
    error,
    fields,
    submit,
    reset: () => {
      setError(null);
      setFields({});
    },
  };
}

// "must be at least 8 characters" → "Must be at least 8 characters" under its field.
export function sentence(reason: string | undefined): string | undefined {
  return reason ? reason[0].toUpperCase() + reason.slice(1) : undefined;
}
