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
