// Classification on the annotate page: 1…9 and 0 choose (in a multi-label project: toggle) a label.
// Registered for static/annotate.js, which calls these hooks.
(window.annotateKinds ||= {}).classification = (() => {
  "use strict";

  function toggleLabel(task, button, ui) {
    const group = task.querySelector(".labels");
    if (group.dataset.multi === "1") button.setAttribute("aria-checked", String(!ui.pressed(button)));
    else ui.check(group, button);
  }

  function show() {}

  function click(opt, task, ui) {
    if (opt.dataset.label === undefined) return false;
    toggleLabel(task, opt, ui);
    return true;
  }

  function result(task) {
    const labels = [...task.querySelectorAll(".labels .opt[aria-checked=true]")].map((b) => b.dataset.label);
    if (!labels.length) throw new Error("choose a label");
    return { labels };
  }

  function apply(section, res) {
    section.querySelectorAll(".labels .opt").forEach((b) => b.setAttribute("aria-checked", String(res.labels.includes(b.dataset.label))));
  }

  function key(event, task, ui) {
    const buttons = [...task.querySelectorAll(".labels .opt")];
    const n = event.key === "0" ? 10 : Number(event.key);
    if (!(n >= 1 && n <= buttons.length && n <= 10)) return false;
    toggleLabel(task, buttons[n - 1], ui);
    return true;
  }

  return { show, click, result, apply, key };
})();
