// The app's entry: restore the login (one cookie refresh), then render the shell.
import { render } from "preact";
import { App } from "./app/App";
import { restore } from "./auth";
import "./styles.css";

const root = document.getElementById("app")!;

async function start(): Promise<void> {
  try {
    await restore();
  } catch {
    // Offline or the server is down: start logged out; the pages say what fails.
  }
  render(<App />, root);
}

void start();
