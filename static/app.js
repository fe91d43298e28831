// Own behaviour only; htmx comes from npm into static/vendor at set-up.
// Toasts dismiss themselves so they never cover the page for long.
document.addEventListener("htmx:afterSwap", () => {
  document.querySelectorAll("#toasts .toast").forEach((el) => setTimeout(() => el.remove(), 6000));
});

// Behaviour that templates ask for with data- attributes, delegated from the document so that it holds for
// blocks htmx swaps in too. The Content-Security-Policy refuses inline handlers (onchange=, onsubmit=).
// <select data-submit-on-change>: submit its form (through htmx where the form has hx-post) on a change.
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-submit-on-change]");
  if (field && field.form) field.form.requestSubmit();
});
// <form data-confirm="question">: ask first; a "Cancel" sends nothing. In the capture phase, so it runs
// before htmx's own submit listener on the form.
document.addEventListener(
  "submit",
  (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);
// <code data-select-on-focus>: focusing a link handed over once (an invite, a password reset) selects it
// whole, ready to copy.
document.addEventListener("focusin", (event) => {
  const el = event.target.closest("[data-select-on-focus]");
  if (!el) return;
  const range = document.createRange();
  range.selectNodeContents(el);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
});
// <button class="image-zoom" data-full="…">: an image of a task, shown large in a dialog (Esc or a click
// closes it, and the focus goes back to the image).
document.addEventListener("click", (event) => {
  const button = event.target.closest(".image-zoom");
  if (!button) return;
  let dialog = document.getElementById("image-zoom");
  if (!dialog) {
    dialog = document.createElement("dialog");
    dialog.id = "image-zoom";
    dialog.className = "image-zoom-dialog";
    dialog.setAttribute("aria-label", "Image, zoomed");
    dialog.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => dialog.opener && dialog.opener.focus());
    document.body.appendChild(dialog);
  }
  const img = document.createElement("img");
  img.src = button.dataset.full;
  img.alt = button.querySelector("img") ? button.querySelector("img").alt : "";
  dialog.replaceChildren(img);
  dialog.opener = button;
  dialog.showModal();
});
