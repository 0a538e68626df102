// Where you are logged in: each login (device), this one marked, and ending any other.
import { useState } from "preact/hooks";
import { Button } from "../../ui/Button";
import { ConfirmDialog } from "../../ui/Dialog";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { dateTime, relativeTime } from "../../ui/format";
import { Loading } from "../../ui/Loading";
import { useLoad } from "../../ui/useLoad";
import { devices, endDevice, type Device } from "./securityApi";

// "Chrome on Linux" from a user-agent string; the raw string stays in the tooltip.
export function describeAgent(agent: string | null | undefined): string {
  if (!agent) return "Unknown device";
  const browser =
    [
      ["Edg/", "Edge"],
      ["OPR/", "Opera"],
      ["Firefox/", "Firefox"],
      ["HeadlessChrome/", "Chrome (headless)"],
      ["Chrome/", "Chrome"],
      ["Chromium/", "Chromium"],
      ["Safari/", "Safari"],
      ["curl/", "curl"],
      ["python", "Python"],
      ["node", "Node.js"],
    ].find(([marker]) => agent.toLowerCase().includes(marker.toLowerCase()))?.[1] ?? agent.split(/[\s/]/)[0];
  const os = [
    ["Windows", "Windows"],
    ["Android", "Android"],
    ["iPhone", "iOS"],
    ["iPad", "iPadOS"],
    ["Mac OS X", "macOS"],
    ["CrOS", "ChromeOS"],
    ["Linux", "Linux"],
  ].find(([marker]) => agent.includes(marker))?.[1];
  return os ? `${browser} on ${os}` : browser;
}

export function DevicesSection() {
  const list = useLoad(devices, []);
  const [ending, setEnding] = useState<Device | null>(null);
  return (
    <section class="card" data-testid="devices-section">
      <div class="card-head">
        <h2>Devices</h2>
        <Button small variant="ghost" onClick={() => void list.reload()} data-testid="devices-reload">
          Refresh
        </Button>
      </div>
      <p class="muted">Every browser and app logged in to your account. End any you do not recognise, then change your password.</p>
      <ErrorBanner error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <ul class="list" data-testid="device-list">
          {list.data.map((device) => (
            <li key={device.id} class="list-row" data-testid="device-row" data-current={device.current ? "true" : "false"}>
              <div class="list-main">
                <span class="list-title" title={device.user_agent ?? ""}>
                  {device.user_agent ? describeAgent(device.user_agent) : (device.device ?? describeAgent(null))}{" "}
                  {device.current && (
                    <span class="badge badge-ok" data-testid="this-device">
                      this device
                    </span>
                  )}
                </span>
                <span class="list-meta muted">
                  {device.ip && <span>{device.ip}</span>}
                  <span title={dateTime(device.created_at)}>logged in {relativeTime(device.created_at)}</span>
                  {device.last_used_at && <span title={dateTime(device.last_used_at)}>active {relativeTime(device.last_used_at)}</span>}
                </span>
              </div>
              <div class="list-actions">
                {!device.current && (
                  <Button small variant="ghost-danger" onClick={() => setEnding(device)} data-testid="device-end">
                    Log out
                  </Button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      {ending && (
        <ConfirmDialog
          title="Log out this device?"
          message={`${ending.user_agent ? describeAgent(ending.user_agent) : (ending.device ?? describeAgent(null))}${ending.ip ? ` (${ending.ip})` : ""} is logged out at once and must log in again.`}
          confirmLabel="Log it out"
          danger
          onConfirm={async () => {
            await endDevice(ending.id);
            await list.reload();
          }}
          onClose={() => setEnding(null)}
        />
      )}
    </section>
  );
}
