// The languages a session can be created in: the runtime catalogue's names
// (config/runtimes.toml). The server has no route listing them yet, so they are listed here.
export const LANGUAGES: { value: string; label: string }[] = [
  { value: "python", label: "Python" },
  { value: "javascript", label: "JavaScript (Node)" },
  { value: "html", label: "HTML / static site" },
];

export function languageLabel(language: string): string {
  return LANGUAGES.find((l) => l.value === language)?.label ?? language;
}
