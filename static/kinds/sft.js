// SFT on the annotate page: e opens the editor (Escape leaves it, Ctrl+Enter submits from it), and the
// changes against the draft show as a line diff. Registered for static/annotate.js, which calls these hooks.
(window.annotateKinds ||= {}).sft = (() => {
  "use strict";

  // A tiny line diff (longest common subsequence) of the answer against the draft.
  function diffLines(a, b) {
    const x = a.split("\n"), y = b.split("\n");
    const m = x.length, n = y.length;
    if (m * n > 250000) return [["~", "(too long to compare line by line)"]];
    const dp = Array.from({ length: m + 1 }, () => new Int32Array(n + 1));
    for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--)
      dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    const out = [];
    let i = 0, j = 0;
    while (i < m && j < n) {
      if (x[i] === y[j]) { out.push([" ", x[i]]); i++; j++; }
      else if (dp[i + 1][j] >= dp[i][j + 1]) out.push(["-", x[i++]]);
      else out.push(["+", y[j++]]);
    }
    while (i < m) out.push(["-", x[i++]]);
    while (j < n) out.push(["+", y[j++]]);
    return out;
  }

  function updateDiff(section) {
    const editor = section.querySelector("textarea.editor");
    const pre = section.querySelector(".diff");
    if (!editor || !pre) return;
    const lines = diffLines(editor.dataset.draft || "", editor.value).filter(([op]) => op !== " ");
    pre.replaceChildren(...lines.map(([op, text]) => {
      const span = document.createElement("span");
      span.className = op === "+" ? "add" : op === "-" ? "del" : "";
      span.textContent = `${op} ${text}\n`;
      return span;
    }));
    if (!lines.length) pre.textContent = "(no changes)";
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
