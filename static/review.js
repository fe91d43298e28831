// Review page keys: j/k (or arrows) move between answers, a accept, x reject, c correct, n next task,
// m the task's comments.
// The correction forms sit among the answers, so every form field keeps its own keys.
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
  function verdict(key) {
    const card = cards()[current];
    const button = card && card.querySelector(`button[data-key="${key}"]`);
    if (!button) return false;
    button.click();
    return true;
  }
  function correct() {
    const card = cards()[current];
    const details = card && card.querySelector("details.correct");
    if (!details) return false;
    details.open = true;
    const field = details.querySelector("select, input:not([type=hidden]), textarea");
    if (field) field.focus();
    return true;
  }
  function nextTask() {
    const next = document.getElementById("next-task");
    if (!next) return false;
    window.location.href = next.href;
    return true;
  }
  function comments() {
    const field = document.querySelector("#comments-block [data-comment-body]");
    if (!field) return false;
    field.scrollIntoView({ block: "center" });
    field.focus();
    return true;
  }
  const down = () => focusCard(current + 1);
  const up = () => focusCard(current - 1);
  window.PreflabKeys.listen({
    fields: true,
    keys: { j: down, ArrowDown: down, k: up, ArrowUp: up, a: () => verdict("a"), x: () => verdict("x"), c: correct, n: nextTask, m: comments },
  });
  document.addEventListener("htmx:afterSwap", () => focusCard(current));
  document.addEventListener("DOMContentLoaded", () => focusCard(0));
})();
