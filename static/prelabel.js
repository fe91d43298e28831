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

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.metaKey || event.defaultPrevented) return;
    if (keys.open) {
      if (event.key === "?") { keys.close(); event.preventDefault(); }
      return;
    }
    const t = event.target;
    const typing = t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type === "text"));
    if (typing) {
      if (event.key === "Escape") { t.blur(); event.preventDefault(); }
      else if (event.key === "Enter" && (event.ctrlKey || t.tagName === "INPUT")) { event.preventDefault(); press("button.save"); }
      return;
    }
    if (event.ctrlKey && event.key !== "Enter") return;
    const mode = form() ? form().dataset.mode : "view";
    let handled;
    switch (event.key) {
      case "a": handled = mode === "view" && press("button[value=accept]"); break;
      case "e": handled = setMode("edit"); break;
      case "r": handled = setMode("reject"); break;
      case "Escape": handled = mode !== "view" && setMode("view"); break;
      case "Enter": handled = mode !== "view" && press("button.save"); break;
      case "s": handled = press("button[value=skip]"); break;
      case "?": keys.showModal(); handled = true; break;
      default: handled = /^[0-9]$/.test(event.key) && choose(event.key === "0" ? 10 : Number(event.key));
    }
    if (handled) event.preventDefault();
  });

  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-set-mode]");
    if (button) setMode(button.dataset.setMode);
    if (event.target.closest("[data-action=help]")) keys.showModal();
  });
})();
