// Comment threads on a task's pages. The annotate page's panel (#comments-panel) loads the current task's
// threads when it opens and again when the task changes while it is open; everywhere, Ctrl+Enter in a
// comment's text sends its form. The threads' block and its forms are htmx (server-rendered, swapped whole).
window.PreflabComments = (() => {
  "use strict";
  const panel = () => document.getElementById("comments-panel");
  let shownTask = null;

  function load(taskId) {
    const p = panel();
    if (!p || !taskId || !window.htmx) return Promise.resolve();
    shownTask = taskId;
    return window.htmx.ajax("GET", `${p.dataset.commentsBase}${taskId}/comments`, {
      target: "#comments-block", swap: "outerHTML",
    });
  }

  function focusBody() {
    const field = document.querySelector("#comments-block [data-comment-body]");
    if (field) field.focus();
  }

  // Open (and load) or close the panel; `taskId` is the task now shown.
  function toggle(taskId) {
    const p = panel();
    if (!p) return false;
    p.hidden = !p.hidden;
    document.querySelectorAll("[aria-controls=comments-panel]").forEach((b) => b.setAttribute("aria-expanded", String(!p.hidden)));
    document.querySelector(".annotate-body")?.classList.toggle("with-comments", !p.hidden);
    if (!p.hidden) {
      if (taskId && taskId !== shownTask) load(taskId).then(focusBody); else focusBody();
    }
    return true;
  }

  // The task changed: an open panel follows it, a closed one loads when it opens.
  function taskShown(taskId) {
    const p = panel();
    if (p && !p.hidden && taskId && taskId !== shownTask) load(taskId);
  }

  const isOpen = () => Boolean(panel() && !panel().hidden);

  document.addEventListener("keydown", (event) => {
    // Enter and Space on the threads' own buttons and lists are theirs, not the page's commands
    const control = event.target.closest && event.target.closest(".comments button, .comments select, .comments a");
    if (control && (event.key === "Enter" || event.key === " ")) { event.stopImmediatePropagation(); return; }
    if (event.key !== "Enter" || !event.ctrlKey) return;
    const field = event.target.closest && event.target.closest(".comments textarea");
    if (!field || !field.form) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    field.form.requestSubmit();
  }, true);

  return { toggle, taskShown, isOpen, focusBody };
})();
