// Trajectory on the annotate page: the agent's steps one under another, one of them current (highlighted,
// scrolled into view). j / k move to the next / previous step, 1…n label the current step and move on,
// w marks it as the first wrong step (again: unmarks it), c writes the comment. A step's data-step is its
// message index in the whole conversation, which the answer names it by.
// Registered for static/annotate.js, which calls these hooks.
(window.annotateKinds ||= {}).trajectory = (() => {
  "use strict";
  let current = 0;  // the current step's place among the steps

  const stepsOf = (task) => [...task.querySelectorAll(".step[data-step]")];
  const picked = (step) => step.querySelector(".step-labels .opt[aria-checked=true]");
  const marked = (step) => step.querySelector(".first-wrong").getAttribute("aria-pressed") === "true";
  const isBad = (button) => Boolean(button) && button.dataset.bad === "1";

  function highlight(task, i, { reveal = true } = {}) {
    const steps = stepsOf(task);
    if (!steps.length) return;
    current = Math.max(0, Math.min(i, steps.length - 1));
    steps.forEach((s, j) => {
      s.classList.toggle("current", j === current);
      if (j === current) s.setAttribute("aria-current", "step"); else s.removeAttribute("aria-current");
    });
    if (reveal) steps[current].scrollIntoView({ block: "nearest" });
  }

  function mark(step, on) {
    step.querySelector(".first-wrong").setAttribute("aria-pressed", String(on));
    step.classList.toggle("first-wrong-step", on);
  }

  function setLabel(task, step, button, ui) {
    ui.check(step.querySelector(".step-labels"), button);
    if (marked(step) && !isBad(button)) {
      mark(step, false);
      ui.say(`Step ${stepsOf(task).indexOf(step) + 1} is no longer the first wrong one: “${button.dataset.label}” is not a bad label.`);
    }
  }

  // The first wrong step is one: marking a step unmarks any other. A step marked wrong that has no bad
  // label yet gets the worst one, by the annotator's own word; a step after one labelled bad cannot be it.
  function toggleFirstWrong(task, step, ui) {
    const steps = stepsOf(task);
    const number = steps.indexOf(step) + 1;
    if (marked(step)) { mark(step, false); ui.say(`Step ${number} unmarked.`); return; }
    const earlier = steps.slice(0, number - 1).findIndex((s) => isBad(picked(s)));
    if (earlier >= 0) {
      ui.say(`Step ${earlier + 1} before it is already labelled “${picked(steps[earlier]).dataset.label}”: that one is the first wrong step.`, "error");
      return;
    }
    steps.forEach((s) => mark(s, false));
    if (!isBad(picked(step))) {
      const buttons = [...step.querySelectorAll(".step-labels .opt")];
      ui.check(step.querySelector(".step-labels"), buttons[buttons.length - 1]);
    }
    mark(step, true);
    ui.say(`Step ${number} is the first wrong step (“${picked(step).dataset.label}”).`);
  }

  function show(section) { current = 0; highlight(section, 0, { reveal: false }); }

  function click(opt, task, ui) {
    const step = opt.closest(".step[data-step]");
    if (!step) return false;
    highlight(task, stepsOf(task).indexOf(step), { reveal: false });
    if (opt.dataset.firstWrong !== undefined) toggleFirstWrong(task, step, ui);
    else if (opt.dataset.label !== undefined) setLabel(task, step, opt, ui);
    else return false;
    return true;
  }

  function result(task) {
    const steps = stepsOf(task);
    const labels = {};
    let firstWrong = -1;
    let firstBad = -1;
    for (const [i, step] of steps.entries()) {
      const button = picked(step);
      if (!button) { highlight(task, i); throw new Error(`label step ${i + 1}: every step needs a label`); }
      labels[step.dataset.step] = button.dataset.label;
      if (firstBad < 0 && isBad(button)) firstBad = i;
      if (marked(step)) firstWrong = i;
    }
    if (firstWrong >= 0 && firstBad < firstWrong) {
      highlight(task, firstBad);
      throw new Error(`step ${firstBad + 1} is already labelled “${labels[steps[firstBad].dataset.step]}”: the first wrong step is that one (w marks it)`);
    }
    const out = { steps: labels, first_wrong: firstWrong >= 0 ? Number(steps[firstWrong].dataset.step) : null };
    const comment = task.querySelector(".trajectory-comment").value.trim();
    if (comment) out.comment = comment;
    return out;
  }

  function apply(section, res, ui) {
    for (const step of stepsOf(section)) {
      const label = (res.steps || {})[step.dataset.step];
      const button = [...step.querySelectorAll(".step-labels .opt")].find((b) => b.dataset.label === label);
      if (button) ui.check(step.querySelector(".step-labels"), button);
      mark(step, res.first_wrong !== null && res.first_wrong !== undefined && String(res.first_wrong) === step.dataset.step);
    }
    section.querySelector(".trajectory-comment").value = res.comment || "";
  }

  function key(event, task, ui) {
    const steps = stepsOf(task);
    if (!steps.length) return false;
    if (event.key === "j") { highlight(task, current + 1); return true; }
    if (event.key === "k") { highlight(task, current - 1); return true; }
    if (event.key === "w") { toggleFirstWrong(task, steps[current], ui); return true; }
    if (event.key === "c") { task.querySelector(".trajectory-comment").focus(); return true; }
    const buttons = [...steps[current].querySelectorAll(".step-labels .opt")];
    const n = Number(event.key);
    if (event.key.length !== 1 || !(n >= 1 && n <= buttons.length)) return false;
    setLabel(task, steps[current], buttons[n - 1], ui);
    if (current < steps.length - 1) highlight(task, current + 1);
    else if (steps.every(picked)) ui.say("Every step is labelled: Enter submits.");
    return true;
  }

  return { show, click, result, apply, key };
})();
