// Reviewing pre-labels with the keyboard: a accepts the suggestion, e edits it, r rejects it and clears
// the answer, Enter saves, s skips. The form posts through htmx, which swaps in the next task.
(() => {
  "use strict";
  const root = document.getElementById("review-root");
  if (!root) return;
  const keys = document.getElementById("review-keys");
  let shownAt = performance.now();

  const form = () => document.getElementById("review-form");
  const choices = (f) => [...f.querySelectorAll(".review-edit input[type=radio], .review-edit input[type=checkbox]")];
  const texts = (f) => [...f.querySelectorAll(".review-edit textarea, .review-edit input[type=text]")];

  function setMode(mode) {
    const f = form();
    if (!f) return false;
    f.dataset.mode = mode;
    f.querySelector(".review-edit").hidden = mode === "view";
    const save = f.querySelector("button.save");
    save.hidden = mode === "view";
    save.value = mode === "reject" ? "reject" : "edit";
    if (mode === "reject") {
      choices(f).forEach((input) => { input.checked = false; });
      texts(f).forEach((input) => { input.value = ""; });
    }
    const editor = f.querySelector(".review-edit textarea, .review-edit input[name=ranking]");
    if (editor && mode !== "view") editor.focus();
    return true;
  }

  function choose(n) {
    const f = form();
    if (!f || f.dataset.mode === "view") return false;
    const input = choices(f)[n - 1];
    if (!input) return false;
    input.checked = input.type === "checkbox" ? !input.checked : true;
    return true;
  }

  function press(selector) {
    const f = form();
    const button = f && f.querySelector(selector);
    if (!button || button.disabled || button.hidden) return false;
    f.querySelector("input[name=lead_time_ms]").value = String(Math.round(performance.now() - shownAt));
    button.click();
    return true;
  }

  document.body.addEventListener("htmx:afterSwap", () => {
    shownAt = performance.now();
    const section = document.getElementById("review");
    if (section) section.focus({ preventScroll: true });
  });

  const mode = () => (form() ? form().dataset.mode : "view");
  window.PreflabKeys.listen({
    help: keys,
    keys: {
      a: () => mode() === "view" && press("button[value=accept]"),
      e: () => setMode("edit"),
      r: () => setMode("reject"),
      Escape: () => mode() !== "view" && setMode("view"),
      Enter: () => mode() !== "view" && press("button.save"),
      s: () => press("button[value=skip]"),
    },
    other: (event) => /^[0-9]$/.test(event.key) && choose(event.key === "0" ? 10 : Number(event.key)),
    whileTyping(event) {
      const t = event.target;
      if (event.key === "Escape") { t.blur(); return true; }
      if (event.key === "Enter" && (event.ctrlKey || t.tagName === "INPUT")) { press("button.save"); return true; }
      return false;
    },
  });

  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-set-mode]");
    if (button) setMode(button.dataset.setMode);
    if (event.target.closest("[data-action=help]")) keys.showModal();
  });
})();
