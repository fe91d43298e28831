// SFT on the annotate page: e opens the editor (Escape leaves it, Ctrl+Enter submits from it), and the
// changes against the draft show as a line diff (static/diff.js). A task with tool schemas, or whose draft
// calls tools, also has its tool calls: each a function (a menu of the task's tools) and its arguments as
// JSON, with a live note saying whether they parse; the server checks them against the tool's schema and
// its 422 names the call. Registered for static/annotate.js, which calls these hooks.
(window.annotateKinds ||= {}).sft = (() => {
  "use strict";
  let made = 0;  // calls added on this page, for unique ids
  const bound = new WeakSet();  // a task shown again (after an undo) keeps its listeners

  function updateDiff(section) {
    const editor = section.querySelector("textarea.editor");
    const pre = section.querySelector(".diff");
    if (!editor || !pre) return;
    window.PreflabDiff.render(pre, editor.dataset.draft || "", editor.value);
  }

  // ---- tool calls -----------------------------------------------------------------------------
  const box = (section) => section.querySelector(".sft-calls");
  const items = (section) => [...section.querySelectorAll(".sft-calls .call")];
  const schemas = (fieldset) => JSON.parse(fieldset.dataset.tools || "{}");

  function parsed(text) {
    try { return { ok: true, value: JSON.parse(text.trim() || "{}") }; } catch (error) {
      return { ok: false, why: error.message };
    }
  }

  function note(item) {
    const area = item.querySelector(".call-args");
    area.rows = Math.min(16, Math.max(3, area.value.split("\n").length + 1));
    const state = parsed(area.value);
    const el = item.querySelector(".call-note");
    const ok = state.ok && state.value !== null && typeof state.value === "object" && !Array.isArray(state.value);
    el.textContent = !state.ok ? `not valid JSON: ${state.why}` : ok ? "valid JSON" : "valid JSON, but the arguments must be an object {…}";
    el.dataset.level = ok ? "ok" : "error";
  }

  function showSchema(item, fieldset) {
    const details = item.querySelector(".call-schema");
    if (!details) return;
    const name = item.querySelector(".call-name").value;
    const schema = schemas(fieldset)[name];
    details.querySelector(".call-fn").textContent = name;
    details.querySelector("pre").textContent = schema || "This function has no parameters schema.";
  }

  function renumber(section) {
    const fieldset = box(section);
    if (!fieldset) return;
    const all = items(section);
    all.forEach((item, i) => {
      item.querySelectorAll(".call-n").forEach((n) => { n.textContent = String(i + 1); });
      item.querySelector(".remove-call").setAttribute("aria-label", `Remove call ${i + 1}`);
    });
    fieldset.querySelector(".no-calls").hidden = all.length > 0;
    fieldset.querySelector(".add-call").disabled = all.length >= 16;
  }

  function addCall(section, name, args) {
    const fieldset = box(section);
    const item = fieldset.querySelector("template.call-template").content.firstElementChild.cloneNode(true);
    const id = `call-note-${fieldset.dataset.task}-new-${made++}`;
    item.querySelector(".call-note").id = id;
    item.querySelector(".call-args").setAttribute("aria-describedby", id);
    const select = item.querySelector(".call-name");
    if (name !== undefined) {
      if (select.tagName === "SELECT" && ![...select.options].some((o) => o.value === name)) {
        select.append(new Option(`${name} (not one of the task's tools)`, name));
      }
      select.value = name;
    }
    if (args !== undefined) item.querySelector(".call-args").value = JSON.stringify(args, null, 2);
    fieldset.querySelector("ol.calls").append(item);
    note(item);
    showSchema(item, fieldset);
    renumber(section);
    return item;
  }

  function removeCall(section, item) {
    const all = items(section);
    const next = all[all.indexOf(item) + 1] || all[all.indexOf(item) - 1];
    item.remove();
    renumber(section);
    (next ? next.querySelector(".call-name") : box(section).querySelector(".add-call")).focus();
  }

  function showCalls(section) {
    const fieldset = box(section);
    if (!fieldset) return;
    items(section).forEach((item) => { note(item); showSchema(item, fieldset); });
    renumber(section);
    if (bound.has(fieldset)) return;
    bound.add(fieldset);
    fieldset.addEventListener("input", (event) => {
      const item = event.target.closest(".call");
      if (item && event.target.classList.contains("call-args")) note(item);
    });
    fieldset.addEventListener("change", (event) => {
      const item = event.target.closest(".call");
      if (item && event.target.classList.contains("call-name")) showSchema(item, fieldset);
    });
    fieldset.addEventListener("click", (event) => {
      if (event.target.closest(".add-call")) addCall(section).querySelector(".call-name").focus();
      const remove = event.target.closest(".remove-call");
      if (remove) removeCall(section, remove.closest(".call"));
    });
    // Enter and Space on the calls' buttons press them: the page's Enter (submit) and Space (scroll) wait
    fieldset.addEventListener("keydown", (event) => {
      if (event.target.tagName === "BUTTON" && (event.key === "Enter" || event.key === " ")) event.stopPropagation();
    });
  }

  function calls(task) {
    return items(task).map((item, i) => {
      const name = item.querySelector(".call-name").value.trim();
      const label = `tool call ${i + 1}${name ? ` (${name})` : ""}`;
      if (!name) throw new Error(`${label}: choose its function`);
      const state = parsed(item.querySelector(".call-args").value);
      if (!state.ok) throw new Error(`${label}: the arguments are not valid JSON: ${state.why}`);
      return { name, arguments: state.value };
    });
  }

  // The server's 422 shows in the page's status line (static/annotate.js); one about a call shows under
  // that call's arguments too, until they are edited.
  let watching = false;
  function watchStatus() {
    const status = document.getElementById("status");
    if (watching || !status) return;
    watching = true;
    new MutationObserver(() => {
      const found = status.dataset.level === "error" && /result\.tool_calls\[(\d+)\]/.exec(status.textContent);
      const section = document.querySelector("#workspace section.task");
      const item = found && section && items(section)[Number(found[1])];
      if (!item) return;
      const el = item.querySelector(".call-note");
      el.textContent = status.textContent.replace(/^Not saved: /, "");
      el.dataset.level = "error";
    }).observe(status, { childList: true, characterData: true, subtree: true, attributes: true });
  }

  // ---- hooks ----------------------------------------------------------------------------------
  function show(section) {
    const editor = section.querySelector("textarea.editor");
    editor.addEventListener("input", () => updateDiff(section));
    updateDiff(section);
    showCalls(section);
    if (box(section)) watchStatus();
  }

  function result(task) {
    const text = task.querySelector("textarea.editor").value;
    const given = calls(task);
    if (!text.trim() && !given.length) {
      throw new Error(box(task) ? "write the response or add a tool call first" : "write the response first");
    }
    return given.length ? { response: text, tool_calls: given } : { response: text };
  }

  function apply(section, res) {
    section.querySelector("textarea.editor").value = res.response;
    if (!box(section)) return;
    items(section).forEach((item) => item.remove());
    for (const call of res.tool_calls || []) addCall(section, call.name, call.arguments);
    renumber(section);
  }

  function key(event, task) {
    if (event.key !== "e") return false;
    task.querySelector("textarea.editor").focus();
    return true;
  }

  return { show, result, apply, key };
})();
