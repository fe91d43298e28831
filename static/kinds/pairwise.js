// Pairwise on the annotate page: 1 / 2 (3: tie) choose, the strength keys (q w r t…, on the strength
// buttons) say how much better, c moves 1/2/3 on to the next criterion, / opens the rationale, e rewrites
// the chosen response (static/rewrite.js). Registered for static/annotate.js, which calls these hooks.
(window.annotateKinds ||= {}).pairwise = (() => {
  "use strict";
  let criterionIndex = -1;  // which criterion 1/2/3 apply to (-1: the overall choice)
  const rewrite = window.PreflabRewrite;
  const strengthKeys = (task) => (task.querySelector(".strength") || { dataset: { keys: "" } }).dataset.keys;
  const letterOf = (task, id) => {
    const card = task.querySelector(`.response[data-id="${CSS.escape(id)}"]`);
    return card ? card.getAttribute("aria-label") : id;
  };

  // [the ids the answer prefers, the one a rewrite improves, its name on screen]; a tie prefers both and
  // rewrites the focused one (else A).
  function preferred(task) {
    const choice = task.querySelector(".choice .opt[aria-checked=true]");
    if (!choice) return null;
    const ids = [...task.querySelectorAll(".responses .response")].map((r) => r.dataset.id);
    if (choice.dataset.choice !== "tie") return [[choice.dataset.choice], choice.dataset.choice, letterOf(task, choice.dataset.choice)];
    const focused = task.querySelector(".responses .response.reading");
    const target = focused ? focused.dataset.id : ids[0];
    return [ids, target, letterOf(task, target)];
  }

  function show(section) { criterionIndex = -1; rewrite.show(section); }

  function result(task) {
    const choice = task.querySelector(".choice .opt[aria-checked=true]");
    if (!choice) throw new Error("choose a response (1 or 2) first");
    const out = { choice: choice.dataset.choice };
    const scale = task.querySelectorAll(".strength .opt");
    const strength = task.querySelector(".strength .opt[aria-checked=true]");
    if (scale.length && out.choice !== "tie") {
      if (!strength) throw new Error("say how much better (" + strengthKeys(task).slice(0, scale.length).split("").join("/") + ")");
      out.strength = Number(strength.dataset.strength);
    }
    const criteria = {};
    task.querySelectorAll(".criterion").forEach((row) => {
      const v = row.querySelector(".opt[aria-checked=true]");
      if (v) criteria[row.dataset.criterion] = v.dataset.value;
    });
    if (Object.keys(criteria).length) out.criteria = criteria;
    const rationale = task.querySelector("textarea[name=rationale]");
    if (rationale && rationale.value.trim()) out.rationale = rationale.value.trim();
    return rewrite.result(task, out, preferred);
  }

  function apply(section, res, ui) {
    const c = section.querySelector(`.choice .opt[data-choice="${CSS.escape(res.choice)}"]`);
    if (c) ui.check(section.querySelector(".choice"), c);
    if (res.strength !== undefined) {
      const s = section.querySelector(`.strength .opt[data-strength="${res.strength}"]`);
      if (s) ui.check(section.querySelector(".strength"), s);
    }
    for (const [name, v] of Object.entries(res.criteria || {})) {
      const row = section.querySelector(`.criterion[data-criterion="${CSS.escape(name)}"]`);
      const o = row && row.querySelector(`.opt[data-value="${CSS.escape(v)}"]`);
      if (o) ui.check(row, o);
    }
    const r = section.querySelector("textarea[name=rationale]");
    if (r && res.rationale) r.value = res.rationale;
    rewrite.apply(section, res, (id) => letterOf(section, id));
  }

  function nextCriterion(task, ui) {
    // cycles: overall choice (-1), then each criterion, then back to the overall choice
    const rows = [...task.querySelectorAll(".criterion")];
    criterionIndex = ((criterionIndex + 2) % (rows.length + 1)) - 1;
    rows.forEach((r, j) => r.classList.toggle("current", j === criterionIndex));
    ui.say(criterionIndex >= 0 ? `1/2/3 now set “${rows[criterionIndex].dataset.criterion}”` : "1/2/3 now set the overall choice");
  }

  function key(event, task, ui) {
    const index = "123".indexOf(event.key);
    if (index >= 0) {
      const rows = [...task.querySelectorAll(".criterion")];
      const group = criterionIndex >= 0 ? rows[criterionIndex] : task.querySelector(".choice");
      const opt = group.querySelectorAll(".opt")[index];
      if (opt) ui.check(group, opt);
      return true;
    }
    const s = event.key.length === 1 ? strengthKeys(task).indexOf(event.key) : -1;
    const scale = task.querySelectorAll(".strength .opt");
    if (s >= 0 && s < scale.length) { ui.check(task.querySelector(".strength"), scale[s]); return true; }
    if (event.key === "c" && task.querySelector(".criterion")) { nextCriterion(task, ui); return true; }
    if (event.key === "/") { const r = task.querySelector("textarea[name=rationale]"); if (r) { r.focus(); return true; } }
    return rewrite.key(event, task, ui, preferred);
  }

  return { show, result, apply, key, click: rewrite.click };
})();
