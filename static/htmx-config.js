// How htmx treats error answers, set once for every page. htmx 2 swaps no 4xx answer by default, but ours
// are meant to be seen: a form's block rendered again with its error and the user's input, or an
// out-of-band toast (with HX-Reswap: none, so the page stays as it is). A 5xx carries no block worth
// swapping in: the page stays as it is and a toast says what happened.
(function () {
  "use strict";
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "4..", swap: true, error: true },
    { code: "...", swap: false, error: true },
  ];
  document.addEventListener("htmx:responseError", (event) => {
    if (event.detail.xhr.status < 500) return;
    const toasts = document.getElementById("toasts");
    if (!toasts) return;
    const toast = document.createElement("div");
    toast.className = "toast error";
    toast.setAttribute("role", "alert");
    toast.textContent = `The server failed (${event.detail.xhr.status}), so the page was left as it was. Try again; if it keeps failing, tell an admin.`;
    toasts.append(toast);
    setTimeout(() => toast.remove(), 6000);
  });
})();
