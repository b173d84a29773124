// TikTok accounts page: two small progressive enhancements, no build step.
//
// 1. Inside the Airflow UI the page is an iframe. It follows the UI's light/dark mode when it can read it
//    (same origin); otherwise the stylesheet follows prefers-color-scheme.
// 2. The UI's iframe sandbox does not allow navigating the top window, and TikTok's consent page refuses
//    to be framed. Forms marked data-top-level are therefore re-posted from the top window (same origin),
//    so the whole tab goes to TikTok and the callback comes back to the top level (the server then moves
//    the answer back inside the UI). Without JS the form simply posts in place. Links stay in the frame.
(function () {
  "use strict";
  var framed = window.top !== window.self;

  function syncTheme() {
    try {
      var root = window.top.document.documentElement;
      var dark = root.classList.contains("dark") || root.dataset.theme === "dark" || root.style.colorScheme === "dark";
      var light = root.classList.contains("light") || root.dataset.theme === "light" || root.style.colorScheme === "light";
      if (dark || light) { document.documentElement.dataset.theme = dark ? "dark" : "light"; }
    } catch (e) { /* not same origin: keep prefers-color-scheme */ }
  }

  function postFromTop(form) {
    var topDoc = window.top.document;
    var copy = topDoc.createElement("form");
    copy.method = "post";
    copy.action = new URL(form.getAttribute("action"), window.location.href).href;
    copy.style.display = "none";
    new FormData(form).forEach(function (value, name) {
      var input = topDoc.createElement("input");
      input.type = "hidden"; input.name = name; input.value = value;
      copy.appendChild(input);
    });
    topDoc.body.appendChild(copy);
    copy.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!framed) { return; }
    syncTheme();
    document.querySelectorAll("form[data-top-level]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        try { postFromTop(form); event.preventDefault(); } catch (e) { /* fall back to posting in place */ }
      });
    });
  });
})();
