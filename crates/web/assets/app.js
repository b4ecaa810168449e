// Threadline's web app: progressive enhancements only. Every page works without this file.
//
// - A form or button with `data-confirm` asks before it is submitted (deleting, revoking).
// - A secret shown once (`input.secret`: a new API token, an invitation link) gets a button
//   that copies it; its words are the input's `data-copy` and `data-copied`.

document.addEventListener("submit", (event) => {
  const form = event.target;
  const submitter = event.submitter;
  const question =
    (submitter && submitter.dataset.confirm) || (form instanceof HTMLFormElement && form.dataset.confirm);
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// - An element with `data-poll="<seconds>"` and an id is refreshed from the server every so
//   many seconds (an import's progress), until the new one no longer asks to be polled.
//   Without JavaScript the page has a Refresh link instead.
function poll(element) {
  const seconds = Number(element.dataset.poll) || 2;
  setTimeout(async () => {
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin" });
      if (!answer.ok) return;
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById(element.id);
      if (!fresh) return;
      const adopted = document.importNode(fresh, true);
      element.replaceWith(adopted);
      if (adopted.dataset.poll) poll(adopted);
    } catch {
      poll(element);
    }
  }, seconds * 1000);
}
document.querySelectorAll("[data-poll][id]").forEach(poll);
for (const input of document.querySelectorAll("input.secret[data-copy]")) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = input.dataset.copy;
  button.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = input.dataset.copied;
    } catch {
      // Not allowed here: the text is selected, for the user to copy.
    }
  });
  input.after(button);
}
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
