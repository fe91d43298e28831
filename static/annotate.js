// The annotate page: keyboard-first, one task block at a time, the next one prefetched so that
// submitting never waits on the network. Results name responses by id, never by position. What differs by
// kind (the answer, its keys) is the kind's script, static/kinds/<kind>.js, loaded before this one (with
// static/turns.js, the ratings of a conversation's turns, which takes keys first); it
// registers hooks in window.annotateKinds: show(section), result(task), apply(section, result), key(event,
// task), optionally click(opt, task); each also gets `ui` ({check, pressed, say, read}: read(el) gives a
// response the reading focus).
(() => {
  "use strict";
  const root = document.getElementById("annotate");
  if (!root) return;
  const pid = root.dataset.project;
  const answer = window.annotateKinds[root.dataset.kind];
  const workspace = document.getElementById("workspace");
  const prefetchSlot = document.getElementById("prefetch");
  const statusEl = document.getElementById("status");
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  const BLOCK = { "HX-Request": "true" };  // the page's URL answers with the task block

  let task = null;          // the current task <section>
  let shownAt = 0;          // when the current task became visible (ms), or 0 while the tab is hidden
  let spentMs = 0;          // time on task so far, without hidden-tab time
  let prefetching = null;   // the pending prefetch (a Promise)
  let lastSubmitted = null; // {uuid, html, result, editableUntil} for undo
  let editing = null;       // while undoing: {uuid, resumeTask}

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
    if (task) {
      bind(task);
      if (window.htmx) window.htmx.process(task);  // loads the task's suggestion block
      window.PreflabComments.taskShown(task.dataset.task);
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
    prefetching = fetch(`/projects/${pid}/annotate?ahead=1`, { headers: BLOCK, credentials: "same-origin" })
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
      const r = await fetch(`/projects/${pid}/annotate`, { headers: BLOCK, credentials: "same-origin" });
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

  // ---- reading: the prompt and responses scroll inside their cards; one of them has the reading focus --
  // (a ring), ← / → move it, Space / Shift+Space scroll it and, at its end, the page.
  const readable = () => (task ? [...task.querySelectorAll(".prompt, .response")] : []);
  const reading = () => readable().find((el) => el.classList.contains("reading"));

  function read(el, { reveal = true } = {}) {
    if (!el) return;
    for (const r of readable()) {
      r.classList.toggle("reading", r === el);
      if (r === el) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
    }
    if (reveal) el.scrollIntoView({ block: "nearest" });
  }

  function readNext(step) {
    const all = readable();
    const next = all[all.indexOf(reading()) + step];
    if (next) read(next);
  }
  const readFrom = (event) => { const el = event.target.closest(".prompt, .response"); if (el) read(el, { reveal: false }); };

  function scrollReading(direction) {
    const el = reading();
    const before = el ? el.scrollTop : 0;
    if (el) el.scrollBy({ top: direction * el.clientHeight * 0.85 });
    if (!el || el.scrollTop === before) window.scrollBy({ top: direction * window.innerHeight * 0.85 });
  }

  const ui = { check, pressed, say, read };
  const turns = window.PreflabTurns;  // ratings of a conversation's own turns (static/turns.js)
  const result = () => turns.result(task, answer.result(task, ui));
  const applyResult = (section, res) => { answer.apply(section, res, ui); turns.apply(section, res, ui); };

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
      const saved = await saving;
      lastSubmitted = { uuid: body.uuid, html, result: res, editableUntil: Date.parse(saved.editable_until || 0) };
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

  // ---- wiring -------------------------------------------------------------------------------
  function bind(section) {
    section.addEventListener("click", (event) => {
      const opt = event.target.closest(".opt");
      if (!opt) return;
      if (!(answer.click && answer.click(opt, section, ui))) {
        check(opt.closest("[role=radiogroup], .choice, .strength, .criterion, .rate-row"), opt);
      }
    });
    answer.show(section, ui);
    turns.show(section, ui);
    if (!reading()) read(section.querySelector(".response") || section.querySelector(".prompt"), { reveal: false });
    // the mouse and Tab move the reading focus too
    section.addEventListener("focusin", readFrom);
    section.addEventListener("pointerdown", readFrom);
  }

  const toggleInstructions = () => { document.getElementById("instructions").hidden ^= true; };
  const toggleComments = () => window.PreflabComments.toggle(task && task.dataset.task);

  window.PreflabKeys.listen({
    help: document.getElementById("keymap"),
    keys: {
      i: toggleInstructions,
      m: () => { if (!task) return false; toggleComments(); },
      Enter: submit,
      s: skip,
      u: undo,
      f: () => { if (task) toggleDialog("flag-dialog"); },
      " ": (event) => { if (!task) return false; scrollReading(event.shiftKey ? -1 : 1); },
      ArrowLeft: () => { if (!task) return false; readNext(-1); },
      ArrowRight: () => { if (!task) return false; readNext(1); },
    },
    other: (event) => Boolean(task) && (turns.key(event, task, ui) || answer.key(event, task, ui)),
    whileTyping(event) {
      if (event.key === "Escape") { event.target.blur(); task && task.focus({ preventScroll: true }); return true; }
      if (event.target.closest("#comments-panel")) return false;  // a comment types its own keys
      if (event.key === "Enter" && event.ctrlKey) { submit(); return true; }
      return false;  // everything else types
    },
    inDialog(event, open) {
      const flagDialog = document.getElementById("flag-dialog");
      if (!open.includes(flagDialog)) return false;
      const n = Number(event.key);
      const radios = flagDialog.querySelectorAll("input[name=reason]");
      if (!(n >= 1 && n <= radios.length)) return false;
      radios[n - 1].checked = true;
      return true;
    },
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
    else if (action === "comments") toggleComments();
    else if (action === "instructions") toggleInstructions();
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
