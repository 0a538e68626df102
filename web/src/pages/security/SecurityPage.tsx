// /settings/security: everything that guards the account, one card each.
import { useTitle } from "../../app/useTitle";
import { Link } from "../../router";
import { ApiKeysSection } from "./ApiKeysSection";
import { AuditSection } from "./AuditSection";
import { DevicesSection } from "./DevicesSection";
import { EmailSection } from "./EmailSection";
import { PasswordSection } from "./PasswordSection";
import { TwoFactorSection } from "./TwoFactorSection";
import "./security.css";

export function SecurityPage() {
  useTitle("Security");
  return (
    <div class="stack security-page" data-testid="security-page">
      <div class="page-head">
        <div>
          <h1>Security</h1>
          <p class="muted">
            Two-factor authentication, API keys, devices, your password and email. Your data and account deletion are on <Link href="/profile">your profile</Link>.
          </p>
        </div>
      </div>
      <TwoFactorSection />
      <DevicesSection />
      <ApiKeysSection />
      <PasswordSection />
      <EmailSection />
      <AuditSection />
    </div>
  );
}
