// Threadline's web app: progressive enhancements only. Every page works without this file.
//
// - A form or button with `data-confirm` asks before it is submitted (deleting, revoking).

document.addEventListener("submit", (event) => {
  const form = event.target;
  const submitter = event.submitter;
  const question =
    (submitter && submitter.dataset.confirm) || (form instanceof HTMLFormElement && form.dataset.confirm);
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// - "Sync now" (a form with `data-progress`, on the Integrations and Planning pages) is sent
//   in the background; its card then shows the runs' progress, polled from that JSON route,
//   and the page reloads when they are done (without this script: the POST and a Refresh
//   link).

const POLL_MS = 1500;

async function pollProgress(form, url, line) {
  form.classList.add("syncing");
  for (;;) {
    let answer;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) break;
      answer = await response.json();
    } catch {
      break;
    }
    if (line) line.textContent = answer.lines.join(" · ");
    if (!answer.syncing) {
      window.location.reload();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  form.classList.remove("syncing");
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.progress || event.defaultPrevented) return;
  event.preventDefault();
  const card = form.closest("section, .planning-sync");
  const line = card && card.querySelector(".progress");
  const response = await fetch(form.action, {
    method: "POST",
    body: new URLSearchParams(new FormData(form)),
    credentials: "same-origin",
    redirect: "follow",
  });
  if (!response.ok || new URL(response.url).searchParams.get("done") === "nothing") {
    window.location.assign(response.url);
    return;
  }
  pollProgress(form, form.dataset.progress, line);
});

for (const state of document.querySelectorAll(".state-syncing")) {
  const form = state.closest("section")?.querySelector("form[data-progress]");
  if (form) pollProgress(form, form.dataset.progress, form.closest("section").querySelector(".progress"));
}

// - The way to a provider's consent screen (`a[data-continue]`, after Connect): followed at
//   once (a navigation; the form that led here could not end at another origin).
const onward = document.querySelector("a[data-continue]");
if (onward) window.location.assign(onward.href);
