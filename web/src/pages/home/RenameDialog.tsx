// Rename something (a session): one field, the server's answer handed back.
import { useState } from "preact/hooks";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";

export function RenameDialog({ title, initial, onSave, onClose }: { title: string; initial: string; onSave: (name: string) => Promise<unknown>; onClose: () => void }) {
  const [name, setName] = useState(initial);
  const form = useSubmit(async () => {
    await onSave(name.trim());
    onClose();
  });
  return (
    <Dialog title={title} onClose={onClose} testId="rename-dialog">
      <form class="form" onSubmit={form.submit} noValidate>
        <ErrorBanner error={form.error} />
        <Field label="Name" name="name" value={name} onValue={setName} required maxLength={255} error={sentence(form.fields.name)} />
        <div class="actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy}>
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
