// One keyboard idiom for the pages worked from the keyboard (annotate, pre-label review, review). A page
// hands over its key map; this decides whether a key is the page's at all: never with Alt or Meta, never
// while the user types in a field (there only the page's typing keys, such as Escape, count), and the
// page's key list opens and closes with `?` the same way everywhere.
window.PreflabKeys = (() => {
  "use strict";
  const NOT_TEXT = ["checkbox", "radio", "button", "submit"];

  // Keys type into text fields, selects and editable content. `fields`: into every form field, for a
  // page whose forms sit among its commands (the review page's corrections).
  function typing(el, { fields = false } = {}) {
    if (!el) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && (fields || !NOT_TEXT.includes(el.type));
  }

  function route(page, event) {
    const open = [...document.querySelectorAll("dialog[open]")];
    if (open.length) {
      if (event.key === "?" && page.help && page.help.open) { page.help.close(); return true; }
      // Escape and Enter work as the dialog's own
      return !typing(event.target) && page.inDialog ? page.inDialog(event, open) : false;
    }
    if (typing(event.target, { fields: page.fields })) return page.whileTyping ? page.whileTyping(event) : false;
    // a folded part (a tool's result, a task's tool schemas) and an image to zoom take their own keys
    const own = event.target.tagName === "SUMMARY" || event.target.closest("[data-own-keys]");
    if ((event.key === "Enter" || event.key === " ") && own) return false;
    if (event.ctrlKey && event.key !== "Enter") return false;
    if (event.key === "?" && page.help) { page.help.showModal(); return true; }
    const command = page.keys && page.keys[event.key];
    if (command) return command(event) !== false;
    return page.other ? page.other(event) : false;
  }

  /**
   * A page's keys. Each handler answers whether it took the key (a command that returns nothing did);
   * a key that was taken does nothing else (preventDefault).
   *   keys:        {key: (event) => taken}, the page's commands
   *   other:       (event) => taken, for keys the map does not name (digits, a kind's own keys)
   *   whileTyping: (event) => taken, while the focus is in a field
   *   inDialog:    (event, openDialogs) => taken, while a dialog is open and the user is not typing
   *   help:        the page's key list (a <dialog>), toggled by `?`
   *   fields:      every form field takes its own keys, not only text fields
   */
  function listen(page) {
    document.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.altKey || event.metaKey) return;
      if (route(page, event)) event.preventDefault();
    });
  }

  return { listen, typing };
})();
