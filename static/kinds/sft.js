// SFT on the annotate page: e opens the editor (Escape leaves it, Ctrl+Enter submits from it), and the
// changes against the draft show as a line diff (static/diff.js). Registered for static/annotate.js, which
// calls these hooks.
(window.annotateKinds ||= {}).sft = (() => {
  "use strict";

  function updateDiff(section) {
    const editor = section.querySelector("textarea.editor");
    const pre = section.querySelector(".diff");
    if (!editor || !pre) return;
    window.PreflabDiff.render(pre, editor.dataset.draft || "", editor.value);
  }

  function show(section) {
    const editor = section.querySelector("textarea.editor");
    editor.addEventListener("input", () => updateDiff(section));
    updateDiff(section);
  }

  function result(task) {
    const text = task.querySelector("textarea.editor").value;
    if (!text.trim()) throw new Error("write the response first");
    return { response: text };
  }

  function apply(section, res) { section.querySelector("textarea.editor").value = res.response; }

  function key(event, task) {
    if (event.key !== "e") return false;
    task.querySelector("textarea.editor").focus();
    return true;
  }

  return { show, result, apply, key };
})();
