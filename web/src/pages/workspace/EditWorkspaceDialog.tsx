// Rename a workspace and change its description (owners and admins).
import { useState } from "preact/hooks";
import { api } from "../../api";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field, TextAreaField } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import type { Workspace } from "../types";

export function EditWorkspaceDialog({ workspace, onSaved, onClose }: { workspace: Workspace; onSaved: (w: Workspace) => void; onClose: () => void }) {
  const [name, setName] = useState(workspace.name);
  const [description, setDescription] = useState(workspace.description ?? "");
  const form = useSubmit(async () => {
    const body = { name: name.trim(), description: description.trim() || null };
    onSaved(await api<Workspace>("PATCH", `/api/workspaces/${workspace.ws_id}`, { body }));
    onClose();
  });
  return (
    <Dialog title="Edit workspace" onClose={onClose} testId="edit-workspace-dialog">
      <form class="form" onSubmit={form.submit} noValidate>
        <ErrorBanner error={form.error} />
        <Field label="Name" name="name" value={name} onValue={setName} required maxLength={255} error={sentence(form.fields.name)} />
        <TextAreaField label="Description" name="description" value={description} onValue={setDescription} maxLength={10000} rows={4} error={sentence(form.fields.description)} />
        <div class="actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy} data-testid="save-workspace">
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
