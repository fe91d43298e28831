// Ratings of the assistant turns inside a conversation prompt (the project's turn_ratings setting), on the
// annotate page: ] / [ make the next / previous assistant turn current (] past the last one gives the keys
// back to the answer), then digits rate it, F flags it, C focuses its comment. static/annotate.js asks
// this module first for every key, and adds its part to the answer: {"turns": {"<index>": {...}}}.
window.PreflabTurns = (() => {
  "use strict";
  let current = -1;  // the position of the current turn among the rated ones; -1: none

  const rated = (task) => [...task.querySelectorAll(".turn[data-turn]")];

  function mark(task, ui) {
    const turns = rated(task);
    turns.forEach((t, i) => t.classList.toggle("current-rate", i === current));
    if (current >= 0) {
      turns[current].scrollIntoView({ block: "nearest" });
      ui.say(`Turn ${current + 1} of ${turns.length}: digits rate it, F flags it, C comments`);
    } else {
      ui.say("Keys are the answer's again");
    }
  }

  function show() { current = -1; }

  function key(event, task, ui) {
    const turns = rated(task);
    if (!turns.length) return false;
    if (event.key === "]" || event.key === "[") {
      const step = event.key === "]" ? 1 : -1;
      // cycles: none (-1), each turn, none again
      current = ((current + 1 + step + turns.length + 1) % (turns.length + 1)) - 1;
      mark(task, ui);
      return true;
    }
    if (current < 0) return false;
    const turn = turns[current];
    const n = Number(event.key);
    const options = turn.querySelectorAll(".turn-scale .opt");
    if (event.key.length === 1 && n >= 1 && n <= options.length) {
      ui.check(turn.querySelector(".turn-scale"), options[n - 1]);
      return true;
    }
    if (event.key === "F") { const f = turn.querySelector(".turn-flag"); f.checked = !f.checked; return true; }
    if (event.key === "C") { turn.querySelector(".turn-comment").focus(); return true; }
    return false;
  }

  // Adds the turn ratings to an answer `out`.
  function result(task, out) {
    const turns = {};
    for (const turn of rated(task)) {
      const entry = {};
      const picked = turn.querySelector(".turn-scale .opt[aria-checked=true]");
      if (picked) entry.rating = Number(picked.dataset.rating);
      if (turn.querySelector(".turn-flag").checked) entry.flag = true;
      const comment = turn.querySelector(".turn-comment").value.trim();
      if (comment) {
        if (!("rating" in entry) && !entry.flag) throw new Error("Rate or flag the turn you commented on (] selects it).");
        entry.comment = comment;
      }
      if (Object.keys(entry).length) turns[turn.dataset.turn] = entry;
    }
    if (Object.keys(turns).length) out.turns = turns;
    return out;
  }

  // Undo: the answer's turn ratings back on the page.
  function apply(section, res, ui) {
    for (const [index, entry] of Object.entries(res.turns || {})) {
      const turn = section.querySelector(`.turn[data-turn="${CSS.escape(index)}"]`);
      if (!turn) continue;
      const opt = turn.querySelector(`.turn-scale .opt[data-rating="${entry.rating}"]`);
      if (opt) ui.check(turn.querySelector(".turn-scale"), opt);
      turn.querySelector(".turn-flag").checked = Boolean(entry.flag);
      turn.querySelector(".turn-comment").value = entry.comment || "";
    }
  }

  return { show, key, result, apply };
})();
