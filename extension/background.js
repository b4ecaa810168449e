// Threadline's service worker: the only part of the extension that talks to the Threadline
// server or holds the API token. The logic lives in background/core.js.

import { createCore } from "./background/core.js";

const core = createCore({
  chrome,
  fetch: (input, init) => fetch(input, init),
});
core.attach();
