// Rating on the annotate page: a digit rates the highlighted cell and moves to the next, arrows move.
// Registered for static/annotate.js, which calls these hooks.
(window.annotateKinds ||= {}).rating = (() => {
  "use strict";
  let current = 0;  // the highlighted cell

  function highlightCell(task, i) {
    const rows = [...task.querySelectorAll(".rate-row")];
    current = Math.max(0, Math.min(i, rows.length - 1));
    rows.forEach((r, j) => r.classList.toggle("current", j === current));
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function show(section) { current = 0; highlightCell(section, 0); }

  function result(task) {
    const ratings = {};
    for (const row of task.querySelectorAll(".rate-row")) {
      const v = row.querySelector(".opt[aria-checked=true]");
      if (!v) { highlightCell(task, [...task.querySelectorAll(".rate-row")].indexOf(row)); throw new Error(`rate ${row.dataset.criterion} of every response`); }
      (ratings[row.dataset.response] ||= {})[row.dataset.criterion] = Number(v.dataset.value);
    }
    return { ratings };
  }

  function apply(section, res, ui) {
    for (const [rid, per] of Object.entries(res.ratings)) for (const [c, v] of Object.entries(per)) {
      const row = section.querySelector(`.rate-row[data-response="${CSS.escape(rid)}"][data-criterion="${CSS.escape(c)}"]`);
      const o = row && row.querySelector(`.opt[data-value="${v}"]`);
      if (o) ui.check(row, o);
    }
  }

  function key(event, task, ui) {
    const rows = [...task.querySelectorAll(".rate-row")];
    if (event.key === "ArrowUp") { highlightCell(task, current - 1); return true; }
    if (event.key === "ArrowDown") { highlightCell(task, current + 1); return true; }
    const opt = [...rows[current].querySelectorAll(".opt")].find((o) => o.dataset.value === event.key);
    if (opt) { ui.check(rows[current], opt); highlightCell(task, current + 1); return true; }
    return false;
  }

  return { show, result, apply, key };
})();
