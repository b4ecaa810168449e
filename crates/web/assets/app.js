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
