// Small helpers for GovID's pages. No inline script (CSP script-src 'self'); the words
// come from the page (rendered from idp/web/i18n.py).
(function () {
  "use strict";
  // "Show password": a toggle button (aria-pressed) next to a password field; hidden
  // until this script runs, since it does nothing without it.
  var toggles = document.querySelectorAll("button.pw-toggle[aria-controls]");
  Array.prototype.forEach.call(toggles, function (button) {
    var field = document.getElementById(button.getAttribute("aria-controls"));
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var show = field.type === "password";
      field.type = show ? "text" : "password";
      button.setAttribute("aria-pressed", show ? "true" : "false");
    });
    // Never submit a password field as visible text (password managers, autofill).
    if (field.form) field.form.addEventListener("submit", function () {
      field.type = "password";
      button.setAttribute("aria-pressed", "false");
    });
  });
})();
