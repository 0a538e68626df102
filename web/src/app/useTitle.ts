// The browser tab's title for the page on screen.
import { useEffect } from "preact/hooks";

export function useTitle(title: string | null | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · collab` : "collab";
  }, [title]);
}
