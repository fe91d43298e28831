// The data manager (templates/projects/tasks.html): keys to move through the tasks, open one beside the list,
// select and search; the selection's count; the bulk form's confirmations and its export download.
(function () {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const rows = () => Array.from(document.querySelectorAll("#dm-rows tr[data-task]"));
  const panel = () => document.getElementById("task-panel");
  let current = -1;

  function focusRow(i) {
    const all = rows();
    if (!all.length) return false;
    current = Math.max(0, Math.min(i, all.length - 1));
    all.forEach((row, n) => row.classList.toggle("current", n === current));
    all[current].focus();
    all[current].scrollIntoView({ block: "nearest" });
    return true;
  }
  const currentRow = () => rows()[current];

  // Through htmx's API, not a click on the link: rows just swapped in are processed by htmx only after its
  // settle delay, and a click before that would follow the link away from the list.
  function open() {
    const row = currentRow();
    const link = row && $("[data-open]", row);
    if (!link) return false;
    window.htmx.ajax("GET", link.getAttribute("hx-get"), { target: "#task-panel", swap: "innerHTML" });
    return true;
  }
  function toggle() {
    const row = currentRow();
    const box = row && $("input[name=task_ids]", row);
    if (!box) return false;
    box.checked = !box.checked;
    counted();
    return true;
  }
  function closePanel() {
    const aside = panel();
    if (!aside || !aside.firstElementChild) return false;
    aside.replaceChildren();
    if (currentRow()) currentRow().focus();
    return true;
  }
  function more() {
    const button = $("[data-more]");
    if (!button) return false;
    button.click();
    return true;
  }
  function search() {
    const field = document.getElementById("dm-q");
    if (!field) return false;
    field.focus();
    field.select();
    return true;
  }

  // How many tasks are selected, beside "the selected tasks".
  function counted() {
    const shown = document.getElementById("dm-selected");
    if (shown) shown.textContent = String(document.querySelectorAll("#dm-rows input[name=task_ids]:checked").length);
  }
  // The bulk form shows the field its action takes (priority, how many more annotations).
  function actionFields() {
    const action = document.getElementById("dm-action");
    if (!action) return;
    document.querySelectorAll("#bulk [data-for-action]").forEach((el) => {
      el.hidden = el.dataset.forAction !== action.value;
    });
  }

  document.addEventListener("change", (event) => {
    if (event.target.id === "dm-all") {
      document.querySelectorAll("#dm-rows input[name=task_ids]").forEach((box) => { box.checked = event.target.checked; });
    }
    if (event.target.id === "dm-action") actionFields();
    counted();
  });

  // A row's number opens the task: the row it sits in becomes the current one.
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-close-panel]")) { closePanel(); return; }
    const row = event.target.closest("#dm-rows tr[data-task]");
    if (row) {
      current = rows().indexOf(row);
      rows().forEach((r) => r.classList.toggle("current", r === row));
    }
    if (event.target.closest("[data-export]")) exportSelection();
  });

  // Deleting asks first, and so does any action on every task of a filter. In the capture phase, so it
  // runs before htmx sends the form.
  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (form.id !== "bulk") return;
      const action = form.elements.action.value;
      const scope = form.elements.scope.value;
      const selected = document.querySelectorAll("#dm-rows input[name=task_ids]:checked").length;
      const which = scope === "filter" ? "every task matching the filter" : `${selected} selected task(s)`;
      let question = null;
      if (action === "delete") question = `Delete ${which}, with their annotations? This cannot be undone.`;
      else if (scope === "filter") question = `${form.elements.action.selectedOptions[0].textContent}: apply to ${which}?`;
      form.elements.confirm.value = "";
      if (question && !window.confirm(question)) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      if (action === "delete") form.elements.confirm.value = "yes";
    },
    true,
  );

  // The export is a plain form post (the browser downloads the answer): it carries the selection and scope.
  function exportSelection() {
    const bulk = document.getElementById("bulk");
    const form = document.getElementById("dm-export");
    if (!bulk || !form) return;
    form.querySelectorAll("[data-picked]").forEach((el) => el.remove());
    const add = (name, value) => {
      const input = document.createElement("input");
      Object.assign(input, { type: "hidden", name, value });
      input.dataset.picked = "";
      form.append(input);
    };
    add("scope", bulk.elements.scope.value);
    document.querySelectorAll("#dm-rows input[name=task_ids]:checked").forEach((box) => add("task_ids", box.value));
    form.submit();
  }

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "task-panel") {
      const article = $("#task-detail");
      if (article) article.focus();
    }
    if (event.detail.target && event.detail.target.id === "grid") current = -1;
    actionFields();
    counted();
  });

  const next = () => focusRow(current + 1);
  const previous = () => focusRow(current < 0 ? 0 : current - 1);
  window.PreflabKeys.listen({
    help: document.getElementById("dm-keys"),
    // Enter opens the task only from its row: on a link or a button it does what it always does.
    keys: { j: next, ArrowDown: next, k: previous, ArrowUp: previous, Enter: (event) => (event.target.matches("#dm-rows tr[data-task]") ? open() : false), o: open, x: toggle, "/": search, m: more, Escape: closePanel },
    whileTyping: (event) => {
      if (event.key === "Escape" && event.target.id === "dm-q") { event.target.blur(); return true; }
      return false;
    },
  });
  actionFields();
  counted();
})();
