// Copy buttons for links shown once (admin console, issue 20). A button names the field
// it copies in data-copy; the result is announced in the element named by data-status.
// Nothing is stored: the value goes to the clipboard only.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      var status = document.getElementById(button.dataset.status);
      if (!field) return;
      var done = function () { if (status) status.textContent = button.dataset.done; };
      var fallback = function () {
        field.focus();
        field.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* select is enough */ }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
});
