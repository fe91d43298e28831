// The annotate page: keyboard-first, one task block at a time, the next one prefetched so that
// submitting never waits on the network. Results name responses by id, never by position.
(() => {
  "use strict";
  const root = document.getElementById("annotate");
  if (!root) return;
  const pid = root.dataset.project;
  const kind = root.dataset.kind;
  const workspace = document.getElementById("workspace");
  const prefetchSlot = document.getElementById("prefetch");
  const statusEl = document.getElementById("status");
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  const STRENGTH_KEYS = "qwertyui";

  let task = null;          // the current task <section>
  let shownAt = 0;          // when the current task became visible (ms), or 0 while the tab is hidden
  let spentMs = 0;          // time on task so far, without hidden-tab time
  let prefetching = null;   // the pending prefetch (a Promise)
  let lastSubmitted = null; // {uuid, html, result, editableUntil} for undo
  let editing = null;       // while undoing: {uuid, resumeTask}
  let criterionIndex = -1;  // pairwise: which criterion 1/2/3 apply to (-1: the overall choice)
  let rankSelected = 0;     // ranking: the selected position
  let rateIndex = 0;        // rating: the highlighted cell

  const say = (text, level = "info") => { statusEl.textContent = text; statusEl.dataset.level = level; };

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (_) { /* empty body */ }
    if (!response.ok) {
      const error = new Error((data && data.detail) || `the server answered ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // A submit is retried with the same UUID: the server stores it once, so a lost answer or a
  // double press can never duplicate or lose an annotation.
  async function postWithRetry(path, body, attempts = 5) {
    for (let i = 0; ; i++) {
      try { return await post(path, body); } catch (error) {
        if ((error.status && error.status < 500) || i >= attempts - 1) throw error;
        await new Promise((r) => setTimeout(r, 300 * 2 ** i));
      }
    }
  }

  // ---- time on task: counts only while the tab is visible -------------------------------------
  function startClock() { spentMs = 0; shownAt = document.hidden ? 0 : performance.now(); }
  function elapsed() { return Math.round(spentMs + (shownAt ? performance.now() - shownAt : 0)); }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { if (shownAt) { spentMs += performance.now() - shownAt; shownAt = 0; } }
    else if (task) { shownAt = performance.now(); }
  });

  // ---- showing tasks ------------------------------------------------------------------------
  function show(section) {
    workspace.replaceChildren(section);
    task = section.classList.contains("done") ? null : section;
    criterionIndex = -1; rankSelected = 0; rateIndex = 0;
    if (task) {
      bind(task);
      if (window.htmx) window.htmx.process(task);  // loads the task's suggestion block
      startClock();
      task.focus({ preventScroll: true });
      window.scrollTo({ top: 0 });
    }
  }

  function fromHtml(html) {
    const box = document.createElement("div");
    box.innerHTML = html.trim();
    return box.firstElementChild;
  }

  function prefetch() {
    prefetching = fetch(`/projects/${pid}/annotate/next?ahead=1`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => {
        if (html) prefetchSlot.replaceChildren(fromHtml(html));
        return html;
      })
      .catch(() => null);
    return prefetching;
  }

  async function advance() {
    // The prefetched block is the next task; fetch it only if the prefetch had not arrived.
    if (prefetching) await prefetching;
    let next = prefetchSlot.firstElementChild;
    prefetchSlot.replaceChildren();
    if (!next) {
      const r = await fetch(`/projects/${pid}/annotate/next`, { credentials: "same-origin" });
      next = fromHtml(await r.text());
    }
    show(next);
    if (task) prefetch();
  }

  // ---- building results ---------------------------------------------------------------------
  const pressed = (el) => el.getAttribute("aria-checked") === "true";
  function check(group, el) {
    group.querySelectorAll(".opt").forEach((o) => o.setAttribute("aria-checked", String(o === el)));
  }

  function result() {
    if (kind === "pairwise") {
      const choice = task.querySelector(".choice .opt[aria-checked=true]");
      if (!choice) throw new Error("choose a response (1 or 2) first");
      const out = { choice: choice.dataset.choice };
      const scale = task.querySelectorAll(".strength .opt");
      const strength = task.querySelector(".strength .opt[aria-checked=true]");
      if (scale.length && out.choice !== "tie") {
        if (!strength) throw new Error("say how much better (" + STRENGTH_KEYS.slice(0, scale.length).split("").join("/") + ")");
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
      return out;
    }
    if (kind === "ranking") {
      return { ranking: [...task.querySelectorAll(".ranking > li")].map((li) => li.dataset.id) };
    }
    if (kind === "rating") {
      const ratings = {};
      for (const row of task.querySelectorAll(".rate-row")) {
        const v = row.querySelector(".opt[aria-checked=true]");
        if (!v) { highlightCell([...task.querySelectorAll(".rate-row")].indexOf(row)); throw new Error(`rate ${row.dataset.criterion} of every response`); }
        (ratings[row.dataset.response] ||= {})[row.dataset.criterion] = Number(v.dataset.value);
      }
      return { ratings };
    }
    if (kind === "sft") {
      const text = task.querySelector("textarea.editor").value;
      if (!text.trim()) throw new Error("write the response first");
      return { response: text };
    }
    if (kind === "classification") {
      const labels = [...task.querySelectorAll(".labels .opt[aria-checked=true]")].map((b) => b.dataset.label);
      if (!labels.length) throw new Error("choose a label");
      return { labels };
    }
    throw new Error(`unknown kind ${kind}`);
  }

  function applyResult(section, res) {
    // Puts a stored answer back on screen (undo).
    if (kind === "pairwise") {
      const c = section.querySelector(`.choice .opt[data-choice="${CSS.escape(res.choice)}"]`);
      if (c) check(section.querySelector(".choice"), c);
      if (res.strength !== undefined) {
        const s = section.querySelector(`.strength .opt[data-strength="${res.strength}"]`);
        if (s) check(section.querySelector(".strength"), s);
      }
      for (const [name, v] of Object.entries(res.criteria || {})) {
        const row = section.querySelector(`.criterion[data-criterion="${CSS.escape(name)}"]`);
        const o = row && row.querySelector(`.opt[data-value="${CSS.escape(v)}"]`);
        if (o) check(row, o);
      }
      const r = section.querySelector("textarea[name=rationale]");
      if (r && res.rationale) r.value = res.rationale;
    } else if (kind === "ranking") {
      const list = section.querySelector(".ranking");
      res.ranking.forEach((id) => { const li = list.querySelector(`li[data-id="${CSS.escape(id)}"]`); if (li) list.appendChild(li); });
    } else if (kind === "rating") {
      for (const [rid, per] of Object.entries(res.ratings)) for (const [c, v] of Object.entries(per)) {
        const row = section.querySelector(`.rate-row[data-response="${CSS.escape(rid)}"][data-criterion="${CSS.escape(c)}"]`);
        const o = row && row.querySelector(`.opt[data-value="${v}"]`);
        if (o) check(row, o);
      }
    } else if (kind === "sft") {
      section.querySelector("textarea.editor").value = res.response;
    } else if (kind === "classification") {
      section.querySelectorAll(".labels .opt").forEach((b) => b.setAttribute("aria-checked", String(res.labels.includes(b.dataset.label))));
    }
  }

  // ---- actions ------------------------------------------------------------------------------
  let busy = false;
  async function submit() {
    if (!task || busy) return;
    let res;
    try { res = result(); } catch (error) { say(error.message, "error"); return; }
    busy = true;
    const section = task;
    if (editing) {
      const { uuid, resumeTask } = editing;
      try {
        await postWithRetry(`/projects/${pid}/annotate/edit`, { uuid, result: res, lead_time_ms: elapsed() });
        lastSubmitted.result = res;
        editing = null;
        say("Your answer was changed.");
        show(resumeTask);
      } catch (error) { say(error.message, "error"); }
      busy = false;
      return;
    }
    const body = {
      uuid: section.dataset.uuid, task_id: Number(section.dataset.task),
      assignment_id: Number(section.dataset.assignment), result: res, lead_time_ms: elapsed(),
    };
    const html = section.outerHTML;
    const saving = postWithRetry(`/projects/${pid}/annotate/submit`, body);
    try {
      const answer = await saving;
      lastSubmitted = { uuid: body.uuid, html, result: res, editableUntil: Date.parse(answer.editable_until || 0) };
      say("Saved.");
      document.body.dispatchEvent(new CustomEvent("annotated"));
      await advance();
    } catch (error) {
      say(`Not saved: ${error.message}`, "error");
      if (error.status === 409) await advance();  // the task was completed by others: move on
    } finally { busy = false; }
  }

  async function skip() {
    if (!task || busy || editing) return;
    busy = true;
    try {
      await postWithRetry(`/projects/${pid}/annotate/skip`, { assignment_id: Number(task.dataset.assignment) });
      say("Skipped.");
      await advance();
    } catch (error) { say(error.message, "error"); } finally { busy = false; }
  }

  function undo() {
    if (editing) { say("Already changing the last answer: Enter saves it."); return; }
    if (!lastSubmitted) { say("Nothing to undo yet."); return; }
    if (Date.now() >= lastSubmitted.editableUntil) { say("The time to undo the last answer has passed.", "error"); return; }
    const old = fromHtml(lastSubmitted.html);
    old.classList.add("editing");
    applyResult(old, lastSubmitted.result);
    editing = { uuid: lastSubmitted.uuid, resumeTask: task || workspace.firstElementChild };
    show(old);
    say("Changing your last answer: Enter saves it.");
  }

  const dialogs = () => [...document.querySelectorAll("dialog[open]")];
  function toggleDialog(id) {
    const d = document.getElementById(id);
    if (d.open) d.close(); else d.showModal();
  }

  async function sendFlag(form) {
    const data = new FormData(form);
    try {
      await post(`/projects/${pid}/annotate/flag`, {
        task_id: Number(task.dataset.task), reason: data.get("reason"), comment: data.get("comment") || "",
      });
      say("Flag sent to the project's leads.");
      form.reset();
    } catch (error) { say(error.message, "error"); }
  }

  // ---- per-kind keyboard --------------------------------------------------------------------
  function nextCriterion() {
    // cycles: overall choice (-1), then each criterion, then back to the overall choice
    const rows = [...task.querySelectorAll(".criterion")];
    criterionIndex = ((criterionIndex + 2) % (rows.length + 1)) - 1;
    rows.forEach((r, j) => r.classList.toggle("current", j === criterionIndex));
    say(criterionIndex >= 0 ? `1/2/3 now set “${rows[criterionIndex].dataset.criterion}”` : "1/2/3 now set the overall choice");
  }

  function pairwiseKey(key) {
    const index = "123".indexOf(key);
    if (index >= 0) {
      const rows = [...task.querySelectorAll(".criterion")];
      const group = criterionIndex >= 0 ? rows[criterionIndex] : task.querySelector(".choice");
      const opt = group.querySelectorAll(".opt")[index];
      if (opt) check(group, opt);
      return true;
    }
    const s = STRENGTH_KEYS.indexOf(key);
    const scale = task.querySelectorAll(".strength .opt");
    if (s >= 0 && s < scale.length) { check(task.querySelector(".strength"), scale[s]); return true; }
    if (key === "c" && task.querySelector(".criterion")) { nextCriterion(); return true; }
    if (key === "/") { const r = task.querySelector("textarea[name=rationale]"); if (r) { r.focus(); return true; } }
    return false;
  }

  function renumber() {
    task.querySelectorAll(".ranking > li").forEach((li, i) => {
      li.querySelector(".rank-pos").textContent = String(i + 1);
      li.classList.toggle("selected", i === rankSelected);
    });
  }

  function rankingKey(event) {
    const items = [...task.querySelectorAll(".ranking > li")];
    const up = event.key === "ArrowUp" || event.key === "k" || event.key === "K";
    const down = event.key === "ArrowDown" || event.key === "j" || event.key === "J";
    const move = event.shiftKey || event.key === "K" || event.key === "J";
    if (up || down) {
      const target = rankSelected + (up ? -1 : 1);
      if (target < 0 || target >= items.length) return true;
      if (move) {
        const list = task.querySelector(".ranking");
        if (up) list.insertBefore(items[rankSelected], items[target]);
        else list.insertBefore(items[target], items[rankSelected]);
      }
      rankSelected = target;
      renumber();
      return true;
    }
    const n = Number(event.key);
    if (n >= 1 && n <= items.length) { rankSelected = n - 1; renumber(); return true; }
    return false;
  }

  function highlightCell(i) {
    const rows = [...task.querySelectorAll(".rate-row")];
    rateIndex = Math.max(0, Math.min(i, rows.length - 1));
    rows.forEach((r, j) => r.classList.toggle("current", j === rateIndex));
    rows[rateIndex].scrollIntoView({ block: "nearest" });
  }

  function ratingKey(event) {
    const rows = [...task.querySelectorAll(".rate-row")];
    if (event.key === "ArrowUp") { highlightCell(rateIndex - 1); return true; }
    if (event.key === "ArrowDown") { highlightCell(rateIndex + 1); return true; }
    const opt = [...rows[rateIndex].querySelectorAll(".opt")].find((o) => o.dataset.value === event.key);
    if (opt) { check(rows[rateIndex], opt); highlightCell(rateIndex + 1); return true; }
    return false;
  }

  function classificationKey(key) {
    const buttons = [...task.querySelectorAll(".labels .opt")];
    const n = key === "0" ? 10 : Number(key);
    if (!(n >= 1 && n <= buttons.length && n <= 10)) return false;
    toggleLabel(buttons[n - 1]);
    return true;
  }

  function toggleLabel(button) {
    const group = task.querySelector(".labels");
    if (group.dataset.multi === "1") button.setAttribute("aria-checked", String(!pressed(button)));
    else check(group, button);
  }

  // A tiny line diff (longest common subsequence) of the SFT answer against the draft.
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

  // ---- wiring -------------------------------------------------------------------------------
  function bind(section) {
    section.addEventListener("click", (event) => {
      const opt = event.target.closest(".opt");
      if (!opt) return;
      if (opt.dataset.label !== undefined) toggleLabel(opt);
      else check(opt.closest("[role=radiogroup], .choice, .strength, .criterion, .rate-row"), opt);
    });
    if (kind === "ranking") {
      renumber();
      let dragged = null;
      section.querySelectorAll(".ranking > li").forEach((li) => {
        li.addEventListener("dragstart", () => { dragged = li; li.classList.add("dragging"); });
        li.addEventListener("dragend", () => { li.classList.remove("dragging"); dragged = null; renumber(); });
        li.addEventListener("dragover", (event) => {
          event.preventDefault();
          if (!dragged || dragged === li) return;
          const box = li.getBoundingClientRect();
          li.parentNode.insertBefore(dragged, event.clientY < box.top + box.height / 2 ? li : li.nextSibling);
        });
      });
    }
    if (kind === "rating") highlightCell(0);
    if (kind === "sft") {
      const editor = section.querySelector("textarea.editor");
      editor.addEventListener("input", () => updateDiff(section));
      updateDiff(section);
    }
  }

  const typing = (el) => el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
    (el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type)) || el.isContentEditable);

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.metaKey) return;
    const open = dialogs();
    if (open.length) {
      const flagDialog = document.getElementById("flag-dialog");
      if (open.includes(flagDialog) && !typing(event.target)) {
        const n = Number(event.key);
        const radios = flagDialog.querySelectorAll("input[name=reason]");
        if (n >= 1 && n <= radios.length) { radios[n - 1].checked = true; event.preventDefault(); }
      }
      if (event.key === "?" && open.includes(document.getElementById("keymap"))) { open[0].close(); event.preventDefault(); }
      return;  // Escape and Enter work as the dialog's own
    }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); task && task.focus({ preventScroll: true }); event.preventDefault(); }
      else if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); submit(); }
      return;  // everything else types
    }
    if (event.ctrlKey && event.key !== "Enter") return;
    let handled = true;
    switch (event.key) {
      case "?": toggleDialog("keymap"); break;
      case "i": document.getElementById("instructions").hidden ^= true; break;
      case "Enter": submit(); break;
      case "s": skip(); break;
      case "u": undo(); break;
      case "f": if (task) toggleDialog("flag-dialog"); break;
      case "e": if (task && kind === "sft") task.querySelector("textarea.editor").focus(); else handled = false; break;
      default: handled = false;
    }
    if (!handled && task) {
      if (kind === "pairwise") handled = pairwiseKey(event.key);
      else if (kind === "ranking") handled = rankingKey(event);
      else if (kind === "rating") handled = ratingKey(event);
      else if (kind === "classification") handled = classificationKey(event.key);
    }
    if (handled) event.preventDefault();
  });

  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "submit") submit();
    else if (action === "skip") skip();
    else if (action === "undo") undo();
    else if (action === "flag") toggleDialog("flag-dialog");
    else if (action === "help") toggleDialog("keymap");
    else if (action === "instructions") document.getElementById("instructions").hidden ^= true;
    else if (action === "close-dialog") button.closest("dialog").close();
  });

  document.getElementById("flag-form").addEventListener("submit", (event) => {
    sendFlag(event.target);
  });

  const first = workspace.firstElementChild;
  if (first) {
    task = first.classList.contains("done") ? null : first;
    if (task) { bind(task); startClock(); task.focus({ preventScroll: true }); prefetch(); }
  }
})();
