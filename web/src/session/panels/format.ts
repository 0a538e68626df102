// How the panels show people, times and durations.
import { ApiError } from "../../api";
import type { Participant } from "../context";

export function displayName(user: Participant["user"]): string {
  const full = [user.first_name, user.last_name].filter(Boolean).join(" ").trim();
  return full || user.username;
}

export function initials(user: Participant["user"]): string {
  const name = displayName(user);
  const parts = name.split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : name.slice(0, 2);
  return letters.toUpperCase();
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "—";
  return when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function minutes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1) return "< 1 min";
  if (value < 60) return `${Math.round(value)} min`;
  const h = Math.floor(value / 60);
  return `${h} h ${Math.round(value - h * 60)} min`;
}

// The server's human message; anything else as a generic line (never raw JSON).
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return "Something went wrong. Please try again.";
}
