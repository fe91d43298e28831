// Rewriting the preferred response on the annotate page (pairwise, ranking; the project's `edits` setting):
// e opens an editor holding the preferred response, Esc leaves it, Ctrl+Enter submits, x discards the
// rewrite, n marks that neither response is good (where the project then asks for a rewrite). The changes
// against the original show as a live line diff (static/diff.js). A kind's script hands over which
// responses its answer prefers; the answer carries {"edits": {"<response id>": "<text>"}}.
window.PreflabRewrite = (() => {
  "use strict";

  const box = (task) => task.querySelector(".rewrite");
  const originals = (task) => JSON.parse(box(task).dataset.originals);

  function refresh(task) {
    const b = box(task);
    const editor = b.querySelector("textarea");
    const original = originals(task)[b.dataset.target] || "";
    window.PreflabDiff.render(b.querySelector(".diff"), original, editor.value);
    const limit = Number(b.dataset.limit);
    const count = b.querySelector(".rewrite-count");
    count.textContent = `${editor.value.length.toLocaleString()} / ${limit.toLocaleString()} characters`;
    count.dataset.level = editor.value.length > limit ? "error" : "";
  }

  function open(task, target, label, text) {
    const b = box(task);
    b.dataset.target = target;
    b.querySelector(".rewrite-of").textContent = label;
    b.querySelector("textarea").value = text;
    b.hidden = false;
    refresh(task);
  }

  // A kind's hooks call these. `preferred(task)`: [ids the answer ranks first, the one to rewrite, its label],
  // or null while nothing is chosen.
  function show(task) {
    const b = box(task);
    if (!b) return;
    b.querySelector("textarea").addEventListener("input", () => refresh(task));
  }

  function key(event, task, ui, preferred) {
    const b = box(task);
    if (!b) return false;
    if (event.key === "e") {
      const pick = preferred(task);
      if (!pick) { ui.say("Choose the better response first, then press e to rewrite it.", "error"); return true; }
      const [, target, label] = pick;
      const editor = b.querySelector("textarea");
      const untouched = b.hidden || editor.value === (originals(task)[b.dataset.target] || "");
      if (b.dataset.target !== target && untouched) open(task, target, label, originals(task)[target] || "");
      else b.hidden = false;
      editor.focus();
      ui.say(`Rewriting ${b.querySelector(".rewrite-of").textContent}: Esc leaves the editor, Ctrl+Enter submits.`);
      return true;
    }
    if (event.key === "x" && !b.hidden) {
      b.hidden = true;
      delete b.dataset.target;
      b.querySelector("textarea").value = "";
      ui.say("Rewrite discarded.");
      return true;
    }
    const neither = task.querySelector("[data-neither]");
    if (event.key === "n" && neither) { toggleNeither(neither, ui); return true; }
    return false;
  }

  function toggleNeither(button, ui) {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(on));
    ui.say(on ? "Neither is good: press e and rewrite the chosen response." : "Neither-is-good cleared.");
  }

  function click(el, task, ui) {
    if (!el.matches("[data-neither]")) return false;
    toggleNeither(el, ui);
    return true;
  }

  // Adds the rewrite to an answer `out` (or throws the message the annotator should read).
  function result(task, out, preferred) {
    const b = box(task);
    if (!b) return out;
    const neither = task.querySelector("[data-neither][aria-pressed=true]");
    const editor = b.querySelector("textarea");
    const target = b.dataset.target;
    const changed = !b.hidden && target && editor.value.trim() && editor.value !== (originals(task)[target] || "");
    if (changed) {
      const pick = preferred(task);
      if (pick && !pick[0].includes(target)) {
        throw new Error(`Your rewrite is of ${b.querySelector(".rewrite-of").textContent}, which is no longer preferred: choose it again, or press x to discard the rewrite.`);
      }
      if (editor.value.length > Number(b.dataset.limit)) {
        throw new Error(`The rewrite is longer than this project's limit of ${Number(b.dataset.limit).toLocaleString()} characters.`);
      }
      out.edits = { [target]: editor.value };
    }
    if (neither) {
      if (!changed) throw new Error("You marked neither response good: press e and rewrite the chosen one.");
      out.neither_good = true;
    }
    return out;
  }

  // Undo: the answer's rewrite back in the editor.
  function apply(task, res, label) {
    if (!box(task)) return;
    const [target, text] = Object.entries(res.edits || {})[0] || [];
    if (target) open(task, target, label(target), text);
    const neither = task.querySelector("[data-neither]");
    if (neither) neither.setAttribute("aria-pressed", String(Boolean(res.neither_good)));
  }

  return { show, key, click, result, apply };
})();
