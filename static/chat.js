// A live chat of a chat project (templates/chat/conversation.html): Ctrl+Enter sends the message; while the
// models write, the turn block polls (htmx) and shows their replies as they stream; once both are in, the
// pairwise keys judge them (static/kinds/pairwise.js: 1 / 2 / 3, the strength keys, e rewrites the chosen
// reply, Enter submits) and the conversation goes on from the chosen reply or its rewrite. What the
// annotator typed stays in the field until the server has it.
(() => {
  "use strict";
  const root = document.getElementById("chat");
  if (!root) return;
  const base = `/projects/${root.dataset.project}/chat/${root.dataset.conversation}`;
  const statusEl = document.getElementById("status");
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  const pairwise = window.annotateKinds.pairwise;
  const DRAFT = `preflab-chat-draft-${root.dataset.conversation}`;
  let shownAt = performance.now();

  const say = (text, level = "info") => { statusEl.textContent = text; statusEl.dataset.level = level; };
  const check = (group, el) => group.querySelectorAll(".opt").forEach((o) => o.setAttribute("aria-checked", String(o === el)));
  const pressed = (el) => el.getAttribute("aria-checked") === "true";
  const read = (el) => {
    document.querySelectorAll("#turn .response").forEach((r) => r.classList.toggle("reading", r === el));
    if (el) el.scrollIntoView({ block: "nearest" });
  };
  const ui = { check, pressed, say, read };
  const turnEl = () => document.getElementById("turn");
  const judging = () => document.querySelector("#turn section.task");

  async function post(path, body) {
    const response = await fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (_) { /* empty */ }
    if (!response.ok) throw new Error((data && data.detail) || `the server answered ${response.status}`);
    return data;
  }

  // The turn block again (after an action), or the whole page when the conversation moved on.
  function reload() { window.location.reload(); }

  let busy = false;
  async function act(work, done) {
    if (busy) return;
    busy = true;
    try { await work(); done(); } catch (error) { say(error.message, "error"); } finally { busy = false; }
  }

  function send() {
    const field = document.getElementById("message");
    if (!field) return;
    const text = field.value;
    if (!text.trim()) { say("Write a message first.", "error"); return; }
    // one id per message: a second press or a retry after a lost answer records one turn
    field.dataset.uuid ||= crypto.randomUUID();
    say("Sending…");
    act(() => post("/send", { uuid: field.dataset.uuid, text }), () => { sessionStorage.removeItem(DRAFT); reload(); });
  }

  function pick() {
    const task = judging();
    if (!task) return;
    let result;
    try { result = pairwise.result(task, ui); } catch (error) { say(error.message, "error"); return; }
    say("Saving…");
    act(() => post(`/turns/${turnEl().dataset.turn}/pick`, { result, lead_time_ms: Math.round(performance.now() - shownAt) }), reload);
  }

  function bindTask() {
    const task = judging();
    if (task && !task.dataset.bound) {
      task.dataset.bound = "1";
      pairwise.show(task, ui);
      shownAt = performance.now();
      task.addEventListener("click", (event) => {
        const opt = event.target.closest(".opt");
        if (!opt) return;
        if (!(pairwise.click && pairwise.click(opt, task, ui))) check(opt.closest("[role=radiogroup]"), opt);
      });
      task.focus({ preventScroll: true });
    }
    const field = document.getElementById("message");
    if (field && !field.dataset.bound) {  // a draft survives a reload (a failed send, a closed tab)
      field.dataset.bound = "1";
      const draft = sessionStorage.getItem(DRAFT);
      if (draft && !field.value) field.value = draft;  // never over what was typed before this ran
      field.addEventListener("input", () => sessionStorage.setItem(DRAFT, field.value));
    }
  }

  document.body.addEventListener("htmx:afterSwap", bindTask);
  bindTask();

  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    const turn = turnEl() && turnEl().dataset.turn;
    if (action === "send") send();
    else if (action === "pick") pick();
    else if (action === "retry") act(() => post(`/turns/${turn}/retry`, { slot: Number(button.dataset.slot) }), reload);
    else if (action === "continue") act(() => post(`/turns/${turn}/continue`, { candidate: button.dataset.candidate }), reload);
    else if (action === "cancel") act(() => post(`/turns/${turn}/cancel`), () => say("Stopping the models…"));
    else if (action === "branch") act(() => post(`/turns/${button.dataset.turn}/branch`), reload);
    else if (action === "close-dialog") button.closest("dialog").close();
  });

  window.PreflabKeys.listen({
    help: document.getElementById("keymap"),
    keys: { Enter: () => { if (!judging()) return false; pick(); } },
    other: (event) => { const task = judging(); return Boolean(task) && pairwise.key(event, task, ui); },
    whileTyping(event) {
      if (event.key === "Enter" && event.ctrlKey) { if (event.target.id === "message") send(); else pick(); return true; }
      if (event.key === "Escape") { event.target.blur(); const task = judging(); if (task) task.focus({ preventScroll: true }); return true; }
      return false;
    },
  });
})();
