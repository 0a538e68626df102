// A person's picture, or their initials when they have none (or it fails to load).
import { useState } from "preact/hooks";
import { displayName, initials, type Person } from "./format";

export function Avatar({ person, size = 28 }: { person: Person & { profile_image_url?: string | null }; size?: number }) {
  const [broken, setBroken] = useState(false);
  const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.4)}px` };
  if (person.profile_image_url && !broken) {
    return <img class="avatar" src={person.profile_image_url} alt="" title={displayName(person)} style={style} referrerpolicy="no-referrer" onError={() => setBroken(true)} />;
  }
  return (
    <span class="avatar avatar-initials" title={displayName(person)} style={style} aria-hidden="true">
      {initials(person)}
    </span>
  );
}
