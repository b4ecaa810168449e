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
