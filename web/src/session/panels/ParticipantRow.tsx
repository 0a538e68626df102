// One participant: avatar, name, presence and role; the owner's controls to change the role
// or remove them (with an inline confirmation, so no browser dialog interrupts anyone).
import { useState } from "preact/hooks";
import type { Participant, Role } from "../context";
import { displayName, initials } from "./format";

interface Props {
  participant: Participant;
  isMe: boolean;
  canManage: boolean; // the viewer of this panel is the owner, and this row is not the owner's
  busy: boolean;
  onRole: (role: Role) => void;
  onRemove: () => void;
}

export function ParticipantRow({ participant: p, isMe, canManage, busy, onRole, onRemove }: Props) {
  const [confirming, setConfirming] = useState(false);
  const name = p.user.username;
  const here = Boolean(p.is_active);
  return (
    <li class={`pn-person${here ? " pn-here" : ""}`} data-testid={`participant-${name}`} data-role={p.role} data-active={String(here)}>
      <span class="pn-avatar" aria-hidden="true">
        {initials(p.user)}
        <span class={`pn-dot${here ? " pn-dot-on" : ""}`} data-testid={`presence-${name}`} title={here ? "Here now" : "Away"} />
      </span>
      <span class="pn-person-text">
        <span class="pn-person-name" title={p.user.email ? String(p.user.email) : name}>
          {displayName(p.user)}
          {isMe && <span class="pn-muted"> (you)</span>}
        </span>
        <span class="pn-muted pn-small">@{name}{here ? " · here now" : ""}</span>
      </span>
      {canManage ? (
        <select
          class="pn-role-select"
          aria-label={`Role of ${name}`}
          data-testid={`role-${name}`}
          value={p.role}
          disabled={busy}
          onChange={(e) => onRole((e.currentTarget as HTMLSelectElement).value as Role)}
        >
          <option value="editor">editor</option>
          <option value="viewer">viewer</option>
        </select>
      ) : (
        <span class={`pn-badge pn-badge-${p.role}`} data-testid={`role-${name}`}>
          {p.role}
        </span>
      )}
      {canManage && !confirming && (
        <button type="button" class="pn-icon-button" title={`Remove ${name}`} aria-label={`Remove ${name}`}
          data-testid={`remove-${name}`} disabled={busy} onClick={() => setConfirming(true)}>
          ×
        </button>
      )}
      {confirming && (
        <span class="pn-confirm" role="group" aria-label={`Remove ${name}?`}>
          <span class="pn-small">Remove?</span>
          <button type="button" class="pn-button pn-danger pn-small-button" data-testid={`confirm-remove-${name}`}
            disabled={busy} onClick={() => { setConfirming(false); onRemove(); }}>
            Remove
          </button>
          <button type="button" class="pn-button pn-small-button" data-testid={`cancel-remove-${name}`} onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </span>
      )}
    </li>
  );
}
