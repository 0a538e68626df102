"""The browser IDE: the bundle built from `web/` (committed in `dist/`) and the routes that
serve it. Only serving lives here; the app's sources are in the top-level `web/` folder."""
