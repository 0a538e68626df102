// Sends the visitor elsewhere without a history entry (so Back does not loop into it).
import { useEffect } from "preact/hooks";
import { navigate } from "../router";

export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
