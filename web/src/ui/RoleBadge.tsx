// A role (session or workspace) as a small coloured label.
export function RoleBadge({ role }: { role: string | null | undefined }) {
  if (!role) return null;
  return <span class={`badge badge-role-${role}`}>{role}</span>;
}
