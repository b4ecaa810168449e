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

// - The documents panel (`.docs`, pages/documents.rs): files dropped onto it, or chosen in
//   its upload form, are sent one request each with XMLHttpRequest (its upload reports
//   progress; fetch has none), one progress bar per file. A file over the limit
//   (`data-max-bytes`) is refused before anything is sent, with the reason. Then the folder's
//   list is refreshed in place. Without this script the form posts every file at once.
const docs = document.querySelector(".docs");
const docsForm = document.getElementById("docs-upload");
if (docs && docsForm) {
  const panelWords = document.getElementById("docs-panel").dataset;
  const maxBytes = Number(panelWords.maxBytes);
  const list = document.getElementById("docs-uploads");

  const entry = (file) => {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", `${panelWords.uploading}: ${file.name}`);
    const state = document.createElement("span");
    state.className = "muted";
    item.append(name, bar, state);
    list.append(item);
    return { item, bar, state };
  };

  const fail = (row, reason) => {
    row.bar.remove();
    row.state.className = "upload-failed";
    row.state.textContent = reason;
  };

  const send = (file, row) =>
    new Promise((resolve) => {
      const data = new FormData();
      data.append("csrf", docsForm.elements.csrf.value);
      data.append("folder", docsForm.elements.folder.value);
      data.append("file", file, file.name);
      const request = new XMLHttpRequest();
      request.open("POST", docsForm.action);
      request.responseType = "document";
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          row.bar.max = event.total;
          row.bar.value = event.loaded;
        }
      });
      request.addEventListener("load", () => {
        if (request.status < 400) {
          row.bar.value = row.bar.max;
          row.state.textContent = panelWords.done;
          resolve(true);
          return;
        }
        const problem = request.response && request.response.getElementById("problem");
        fail(row, problem ? problem.textContent : `${panelWords.failed} (${request.status})`);
        resolve(false);
      });
      request.addEventListener("error", () => {
        fail(row, panelWords.failed);
        resolve(false);
      });
      request.send(data);
    });

  const refresh = async () => {
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin" });
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById("docs-panel");
      if (answer.ok && fresh) document.getElementById("docs-panel").replaceWith(document.importNode(fresh, true));
    } catch {
      // The list stays as it was; the uploads' lines say what happened.
    }
  };

  const uploadAll = async (files) => {
    list.replaceChildren();
    let sent = 0;
    for (const file of files) {
      const row = entry(file);
      if (file.size > maxBytes) {
        fail(row, panelWords.tooLarge.split("{name}").join(file.name));
        continue;
      }
      if (await send(file, row)) sent += 1;
    }
    if (sent > 0) await refresh();
  };

  docsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = docsForm.elements.file;
    const files = [...input.files];
    input.value = "";
    uploadAll(files);
  });
  const carriesFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  docs.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    docs.classList.add("dropping");
  });
  docs.addEventListener("dragleave", (event) => {
    if (!docs.contains(event.relatedTarget)) docs.classList.remove("dropping");
  });
  docs.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    docs.classList.remove("dropping");
    uploadAll([...event.dataTransfer.files]);
  });
}
