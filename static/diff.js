// A line diff (longest common subsequence) for the pages that show an edit against its original: the SFT
// page's answer against its draft, a rewrite of a preferred response against the response.
window.PreflabDiff = (() => {
  "use strict";

  function lines(a, b) {
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

  // Shows the changed lines of `after` against `before` in a <pre>.
  function render(pre, before, after) {
    const changed = lines(before, after).filter(([op]) => op !== " ");
    pre.replaceChildren(...changed.map(([op, text]) => {
      const span = document.createElement("span");
      span.className = op === "+" ? "add" : op === "-" ? "del" : "";
      span.textContent = `${op} ${text}\n`;
      return span;
    }));
    if (!changed.length) pre.textContent = "(no changes)";
  }

  return { lines, render };
})();
