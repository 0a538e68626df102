// Create a workspace (I become its owner), then open it.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { navigate } from "../../router";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field, TextAreaField } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import type { Workspace } from "../types";

export function NewWorkspaceDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const form = useSubmit(async () => {
    const body: Record<string, unknown> = { name: name.trim() };
    if (description.trim()) body.description = description.trim();
    const workspace = await api<Workspace>("POST", "/api/workspaces", { body });
    navigate(`/workspaces/${workspace.ws_id}`);
  });
  return (
    <Dialog title="New workspace" onClose={onClose} testId="new-workspace-dialog">
      <form class="form" onSubmit={form.submit} noValidate>
        <ErrorBanner error={form.error} />
        <Field label="Name" name="name" value={name} onValue={setName} required maxLength={255} placeholder="My team" error={sentence(form.fields.name)} />
        <TextAreaField label="Description (optional)" name="description" value={description} onValue={setDescription} maxLength={10000} error={sentence(form.fields.description)} />
        <div class="actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy} data-testid="create-workspace">
            Create workspace
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
