// /profile: your names, username and picture; log out here or everywhere; security settings,
// your data's export and deleting the account.
import { useState } from "preact/hooks";
import { api } from "../../api";
import { logout, setUser, type User } from "../../auth";
import { useUser } from "../../app/useUser";
import { useTitle } from "../../app/useTitle";
import { navigate } from "../../router";
import { Avatar } from "../../ui/Avatar";
import { Button } from "../../ui/Button";
import { ConfirmDialog } from "../../ui/Dialog";
import { ErrorBanner, Notice } from "../../ui/ErrorBanner";
import { Field } from "../../ui/Field";
import { sentence, useSubmit } from "../../ui/useSubmit";
import { AccountDataSection } from "../profile/AccountDataSection";

export function ProfilePage() {
  useTitle("Your profile");
  const me = useUser();
  if (!me) return null;
  return (
    <div class="stack" data-testid="profile-page">
      <section class="card">
        <div class="profile-head">
          <Avatar person={me} size={56} />
          <div>
            <h1>Your profile</h1>
            <p class="muted">
              {me.email}{" "}
              {me.email_verified ? (
                <span class="badge badge-ok">verified</span>
              ) : (
                <span class="badge badge-warn" data-testid="email-unverified">
                  not verified yet
                </span>
              )}
            </p>
          </div>
        </div>
        <ProfileForm me={me} />
      </section>
      <Sessions />
      <AccountDataSection />
    </div>
  );
}

function ProfileForm({ me }: { me: User }) {
  const [firstName, setFirstName] = useState(me.first_name ?? "");
  const [lastName, setLastName] = useState(me.last_name ?? "");
  const [username, setUsername] = useState(me.username);
  const [image, setImage] = useState(me.profile_image_url ?? "");
  const [saved, setSaved] = useState(false);
  const form = useSubmit(async () => {
    setSaved(false);
    // Only what changed; an emptied optional field is cleared (null).
    const patch: Record<string, string | null> = {};
    const wanted: [string, string, string | null | undefined][] = [
      ["first_name", firstName.trim(), me.first_name],
      ["last_name", lastName.trim(), me.last_name],
      ["profile_image_url", image.trim(), me.profile_image_url],
    ];
    for (const [key, value, was] of wanted) if (value !== (was ?? "")) patch[key] = value || null;
    if (username.trim() !== me.username) patch.username = username.trim();
    if (Object.keys(patch).length === 0) {
      setSaved(true);
      return;
    }
    setUser(await api<User>("PATCH", "/api/auth/me", { body: patch }));
    setSaved(true);
  });
  const f = form.fields;
  return (
    <form class="form" onSubmit={form.submit} noValidate data-testid="profile-form">
      <ErrorBanner error={form.error} />
      {saved && (
        <Notice kind="success" testId="profile-saved">
          Saved.
        </Notice>
      )}
      <div class="field-pair">
        <Field label="First name" name="first_name" value={firstName} onValue={setFirstName} maxLength={100} autoComplete="given-name" error={sentence(f.first_name)} />
        <Field label="Last name" name="last_name" value={lastName} onValue={setLastName} maxLength={100} autoComplete="family-name" error={sentence(f.last_name)} />
      </div>
      <Field label="Username" name="username" value={username} onValue={setUsername} maxLength={50} autoComplete="username" hint="3–50 letters, digits or underscores." error={sentence(f.username)} />
      <Field label="Avatar URL" name="profile_image_url" type="url" value={image} onValue={setImage} maxLength={500} placeholder="https://…" error={sentence(f.profile_image_url)} />
      <div class="actions">
        <Button type="submit" variant="primary" busy={form.busy}>
          Save changes
        </Button>
      </div>
    </form>
  );
}

function Sessions() {
  const [confirming, setConfirming] = useState(false);
  const out = async () => {
    await logout();
    navigate("/login", { replace: true });
  };
  const everywhere = async () => {
    await api("POST", "/api/auth/logout-all");
    await logout();
    navigate("/login", { replace: true });
  };
  return (
    <section class="card">
      <h2>Logins</h2>
      <p class="muted">Log out of this browser, or of every device where you are logged in.</p>
      <div class="actions actions-start">
        <Button onClick={out} data-testid="profile-logout">
          Log out
        </Button>
        <Button variant="danger" onClick={() => setConfirming(true)} data-testid="logout-all">
          Log out everywhere
        </Button>
      </div>
      {confirming && (
        <ConfirmDialog
          title="Log out everywhere?"
          message="Every device where you are logged in, this one included, will need to log in again."
          confirmLabel="Log out everywhere"
          danger
          onConfirm={everywhere}
          onClose={() => setConfirming(false)}
        />
      )}
    </section>
  );
}
