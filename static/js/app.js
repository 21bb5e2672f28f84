// After HTMX swaps the main content, move focus to its heading so screen readers and
// keyboard users land on the new content, as they would after a full page load.
document.addEventListener("htmx:afterSettle", function (event) {
  var main = document.getElementById("main");
  if (!main || !main.contains(event.detail.elt) && event.detail.elt !== main) return;
  var heading = main.querySelector("h1");
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
});
// Cookie-authenticated HTMX requests carry the page's CSRF token.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});
