// Create a session: a name, a language, and (optionally) one of my workspaces to put it in.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { navigate } from "../../router";
import { Button } from "../../ui/Button";
import { Dialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { Field, SelectField, TextAreaField } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { rank, type SessionSummary, type Workspace } from "../types";
import { LANGUAGES } from "./languages";

export interface NewSessionDialogProps {
  workspaces: Workspace[]; // those offered; only ones where I am at least an editor are listed
  wsId?: string | null; // preselected workspace
  onClose: () => void;
}

export function NewSessionDialog({ workspaces, wsId = null, onClose }: NewSessionDialogProps) {
  const [name, setName] = useState("");
  const [language, setLanguage] = useState(LANGUAGES[0].value);
  const [workspace, setWorkspace] = useState(wsId ?? "");
  const [description, setDescription] = useState("");
  const usable = workspaces.filter((w) => rank(w.role) >= rank("editor") && w.status !== "archived");
  const form = useSubmit(async () => {
    const body: Record<string, unknown> = { name: name.trim(), language };
    if (workspace) body.ws_id = workspace;
    if (description.trim()) body.description = description.trim();
    const session = await api<SessionSummary>("POST", "/api/sessions", { body });
    navigate(`/sessions/${session.session_id}`);
  });
  return (
    <Dialog title="New session" onClose={onClose} testId="new-session-dialog">
      <form class="form" onSubmit={form.submit} noValidate>
        <ErrorBanner error={form.error} />
        <Field label="Name" name="name" value={name} onValue={setName} required maxLength={255} placeholder="My project" error={sentence(form.fields.name)} />
        <SelectField label="Language" name="language" value={language} onValue={setLanguage} options={LANGUAGES} error={sentence(form.fields.language)} />
        {usable.length > 0 && (
          <SelectField
            label="Workspace"
            name="ws_id"
            value={workspace}
            onValue={setWorkspace}
            options={[{ value: "", label: "None (just me and whom I invite)" }, ...usable.map((w) => ({ value: w.ws_id, label: w.name }))]}
            error={sentence(form.fields.ws_id)}
          />
        )}
        <TextAreaField label="Description (optional)" name="description" value={description} onValue={setDescription} maxLength={10000} error={sentence(form.fields.description)} />
        <div class="actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy} data-testid="create-session">
            Create session
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
