// ecampus: small enhancements on top of htmx. Every page works without them.
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  // Cookie-authenticated HTMX requests carry the page's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
  });

  // Quiz drafts: unsent answers are kept in localStorage, per account and quiz, as the
  // learner goes; they come back when the quiz is opened again with an empty form, and go
  // once graded. On a shared computer nobody sees another's: drafts are named by the
  // account's draft key (data-draft, not the account's id), go at logout, and another
  // account's drafts go as soon as someone else opens a quiz.
  var store = null;
  try { store = window.localStorage; } catch (e) { /* storage blocked: no drafts */ }
  var PREFIX = "ecampus:draft:";
  var ownerOf = function (form) { return form.getAttribute("data-draft") || ""; };
  var keyOf = function (form) { return PREFIX + ownerOf(form) + ":" + form.getAttribute("action"); };
  function forget(keep) {
    if (!store) return;
    try {
      for (var i = store.length - 1; i >= 0; i--) {
        var key = store.key(i);
        if (key && key.indexOf(PREFIX) === 0 && !(keep && key.indexOf(PREFIX + keep + ":") === 0)) {
          store.removeItem(key);
        }
      }
    } catch (e) { /* blocked */ }
  }
  var choice = function (el) { return el.type === "radio" || el.type === "checkbox"; };
  var fields = function (form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.type !== "hidden" && el.type !== "submit";
    });
  };
  function save(form) {
    var data = {}, any = false;
    fields(form).forEach(function (el) {
      if (choice(el) ? el.checked : el.value) {
        (data[el.name] = data[el.name] || []).push(el.value);
        any = true;
      }
    });
    try {
      if (any) store.setItem(keyOf(form), JSON.stringify(data));
      else store.removeItem(keyOf(form));
    } catch (e) { /* full or blocked */ }
  }
  function restore(form) {
    if (!store || !ownerOf(form)) return;
    forget(ownerOf(form));
    if (form.hasAttribute("data-graded")) { store.removeItem(keyOf(form)); return; }
    var list = fields(form);
    if (list.some(function (el) { return choice(el) ? el.checked : el.value; })) return;
    var data = null;
    try { data = JSON.parse(store.getItem(keyOf(form)) || "null"); } catch (e) { /* bad JSON */ }
    if (!data) return;
    list.forEach(function (el) {
      var values = data[el.name] || [];
      if (choice(el)) el.checked = values.indexOf(el.value) >= 0;
      else if (values.length) el.value = values[0];
    });
  }
  function remember(event) {
    var form = event.target.form;
    if (store && form && ownerOf(form)) save(form);
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.getAttribute && form.getAttribute("action") === "/logout") forget(null);
  });
  document.addEventListener("input", remember);
  document.addEventListener("change", remember);

  // htmx swaps only #main: keep the header's links true to the page now shown.
  function syncHeader() {
    var here = location.pathname + location.search;
    each(document.querySelectorAll("header.site a[href*='next=']"), function (a) {
      a.setAttribute("href", a.getAttribute("href").split("next=")[0] + "next=" + encodeURIComponent(here));
    });
    each(document.querySelectorAll("nav.main a"), function (a) {
      if (a.pathname === location.pathname) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
  }

  function ready(root) { each(root.querySelectorAll("form[data-draft]"), restore); }

  document.addEventListener("htmx:afterSettle", function (event) {
    var main = event.detail && event.detail.elt;
    if (!main || !main.querySelectorAll) return;
    ready(main);
    if (main.id !== "main") return; // a part of a page (catalogue results): focus stays
    syncHeader();
    // Like a page load for screen readers and keyboards: focus the quiz result, else the heading.
    var target = main.querySelector("#quiz-result") || main.querySelector("h1");
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  });
  document.addEventListener("htmx:historyRestore", function () { ready(document); syncHeader(); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { ready(document); });
  } else {
    ready(document);
  }
})();
