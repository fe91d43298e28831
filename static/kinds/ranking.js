// Ranking on the annotate page: arrows or j/k select a response, with Shift (or J/K) move it, digits select
// a place, the mouse drags, e rewrites the top response (static/rewrite.js). Registered for
// static/annotate.js, which calls these hooks.
(window.annotateKinds ||= {}).ranking = (() => {
  "use strict";
  let selected = 0;  // the selected position
  const rewrite = window.PreflabRewrite;

  // [the ids the answer prefers, the one a rewrite improves, its name on screen]: the top response
  function preferred(task) {
    const top = task.querySelector(".ranking > li");
    return top ? [[top.dataset.id], top.dataset.id, "the top response"] : null;
  }

  function renumber(task) {
    task.querySelectorAll(".ranking > li").forEach((li, i) => {
      li.querySelector(".rank-pos").textContent = String(i + 1);
      li.classList.toggle("selected", i === selected);
    });
  }

  function show(section) {
    selected = 0;
    renumber(section);
    rewrite.show(section);
    let dragged = null;
    section.querySelectorAll(".ranking > li").forEach((li) => {
      li.addEventListener("dragstart", () => { dragged = li; li.classList.add("dragging"); });
      li.addEventListener("dragend", () => { li.classList.remove("dragging"); dragged = null; renumber(section); });
      li.addEventListener("dragover", (event) => {
        event.preventDefault();
        if (!dragged || dragged === li) return;
        const box = li.getBoundingClientRect();
        li.parentNode.insertBefore(dragged, event.clientY < box.top + box.height / 2 ? li : li.nextSibling);
      });
    });
  }

  function result(task) {
    const out = { ranking: [...task.querySelectorAll(".ranking > li")].map((li) => li.dataset.id) };
    return rewrite.result(task, out, preferred);
  }

  function apply(section, res) {
    const list = section.querySelector(".ranking");
    res.ranking.forEach((id) => { const li = list.querySelector(`li[data-id="${CSS.escape(id)}"]`); if (li) list.appendChild(li); });
    rewrite.apply(section, res, () => "the top response");
  }

  function key(event, task, ui) {
    const items = [...task.querySelectorAll(".ranking > li")];
    const up = event.key === "ArrowUp" || event.key === "k" || event.key === "K";
    const down = event.key === "ArrowDown" || event.key === "j" || event.key === "J";
    const move = event.shiftKey || event.key === "K" || event.key === "J";
    if (up || down) {
      const target = selected + (up ? -1 : 1);
      if (target < 0 || target >= items.length) return true;
      if (move) {
        const list = task.querySelector(".ranking");
        if (up) list.insertBefore(items[selected], items[target]);
        else list.insertBefore(items[target], items[selected]);
      }
      selected = target;
      renumber(task);
      ui.read(task.querySelectorAll(".ranking > li")[selected]);  // Space scrolls the selected response
      return true;
    }
    const n = Number(event.key);
    if (n >= 1 && n <= items.length) { selected = n - 1; renumber(task); ui.read(items[selected]); return true; }
    return rewrite.key(event, task, ui, preferred);
  }

  return { show, result, apply, key, click: rewrite.click };
})();
