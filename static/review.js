// Review page keys: j/k (or arrows) move between answers, a accept, x reject, c correct, n next task.
(function () {
  "use strict";
  let current = 0;
  const cards = () => Array.from(document.querySelectorAll("#review .answer"));
  function focusCard(i) {
    const all = cards();
    if (!all.length) return;
    current = Math.max(0, Math.min(i, all.length - 1));
    all.forEach((c, n) => c.classList.toggle("focused", n === current));
    all[current].focus();
  }
  function typing(e) {
    const t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    const card = cards()[current];
    if (e.key === "j" || e.key === "ArrowDown") { focusCard(current + 1); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { focusCard(current - 1); e.preventDefault(); }
    else if ((e.key === "a" || e.key === "x") && card) {
      const button = card.querySelector(`button[data-key="${e.key}"]`);
      if (button) { button.click(); e.preventDefault(); }
    } else if (e.key === "c" && card) {
      const details = card.querySelector("details.correct");
      if (details) {
        details.open = true;
        const field = details.querySelector("select, input:not([type=hidden]), textarea");
        if (field) field.focus();
        e.preventDefault();
      }
    } else if (e.key === "n") {
      const next = document.getElementById("next-task");
      if (next) { window.location.href = next.href; e.preventDefault(); }
    }
  });
  document.addEventListener("htmx:afterSwap", () => focusCard(current));
  document.addEventListener("DOMContentLoaded", () => focusCard(0));
})();
