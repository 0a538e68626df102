// A person's picture, or their initials when they have none (or it cannot be shown).
import { useState } from "preact/hooks";
import { displayName, initials, type Person } from "./format";

// The page's CSP allows images from this origin and data: URLs only; any other picture would
// be blocked with a console error, so those people get their initials instead.
function showable(url: string | null | undefined): url is string {
  if (!url) return false;
  if (url.startsWith("data:image/")) return true;
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

export function Avatar({ person, size = 28 }: { person: Person & { profile_image_url?: string | null }; size?: number }) {
  const [broken, setBroken] = useState(false);
  const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.4)}px` };
  if (showable(person.profile_image_url) && !broken) {
    return <img class="avatar" src={person.profile_image_url} alt="" title={displayName(person)} style={style} referrerpolicy="no-referrer" onError={() => setBroken(true)} />;
  }
  return (
    <span class="avatar avatar-initials" title={displayName(person)} style={style} aria-hidden="true">
      {initials(person)}
    </span>
  );
}
