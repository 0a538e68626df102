// A person's colour: stable per user id (the same on every screen and every visit), and the
// guard that keeps other people's awareness colours to plain hex before CodeMirror puts them
// in a style attribute.

function hash(text: string): number {
  let h = 2166136261; // FNV-1a: tiny and spreads neighbouring ids apart
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function hslToHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + h / 30) % 12;
    const c = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255)
      .toString(16)
      .padStart(2, "0");
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

export interface UserColour {
  color: string;
  colorLight: string;
}

export function colourOf(userId: string): UserColour {
  const color = hslToHex(hash(userId) % 360, 0.7, 0.6);
  return { color, colorLight: `${color}33` };
}

const HEX = /^#[0-9a-f]{6}([0-9a-f]{2})?$/i;

// Awareness states come from other clients: anything but a hex colour is replaced, so a
// hostile state cannot smuggle CSS into the caret's style attribute.
export function safeColour(value: unknown, fallback: string): string {
  return typeof value === "string" && HEX.test(value) ? value : fallback;
}
