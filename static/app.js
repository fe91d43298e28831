// Own behaviour only; htmx comes from npm into static/vendor at set-up.
// Toasts dismiss themselves so they never cover the page for long.
document.addEventListener("htmx:afterSwap", () => {
  document.querySelectorAll("#toasts .toast").forEach((el) => setTimeout(() => el.remove(), 6000));
});
