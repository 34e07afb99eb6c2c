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
  // Time limits (WCAG 2.2.1): a polite warning before the step times out,
  // with a button that asks GovID for more time (a new token for the same step, swapped
  // in wherever the page uses the old one). The words come from the page.
  var box = document.getElementById("time-limit");
  if (box && window.fetch && window.URLSearchParams) {
    var warnBox = document.getElementById("time-warning");
    var more = document.getElementById("time-extend");
    var limitText = document.getElementById("time-limit-text");
    var token = box.getAttribute("data-i");
    var left = parseInt(box.getAttribute("data-left"), 10) || 0;
    var warnMs = (parseInt(box.getAttribute("data-warn"), 10) || 120) * 1000;
    // Relative to this page's load (the device clock may differ from GovID's).
    var deadline = Date.now() + (parseInt(box.getAttribute("data-seconds"), 10) || 0) * 1000;
    var warnTimer = null, overTimer = null;
    // The live region is in the page from the start (empty), so a change is announced.
    var say = function (text) {
      warnBox.textContent = text;
    };
    var swap = function (old, fresh) {
      Array.prototype.forEach.call(document.querySelectorAll("input[name=i]"), function (el) {
        if (el.value === old) el.value = fresh;
      });
      Array.prototype.forEach.call(document.querySelectorAll("[data-i]"), function (el) {
        if (el.getAttribute("data-i") === old) el.setAttribute("data-i", fresh);
      });
      Array.prototype.forEach.call(document.querySelectorAll("a[href]"), function (a) {
        var href = a.getAttribute("href");
        if (href.indexOf(old) >= 0) a.setAttribute("href", href.split(old).join(fresh));
      });
      if (window.location.href.indexOf(old) >= 0 && window.history.replaceState) {
        window.history.replaceState(null, "", window.location.href.split(old).join(fresh));
      }
    };
    var schedule = function () {
      clearTimeout(warnTimer);
      clearTimeout(overTimer);
      warnTimer = setTimeout(function () {
        var warning = box.getAttribute("data-msg-warn");
        if (left > 0) {
          say(warning);
          more.hidden = false;
        } else {
          say(warning + " " + box.getAttribute("data-msg-no-more"));
        }
      }, Math.max(0, deadline - warnMs - Date.now()));
      overTimer = setTimeout(function () {
        more.hidden = true;
        say(box.getAttribute("data-msg-over"));
      }, Math.max(0, deadline - Date.now()));
    };
    more.addEventListener("click", function () {
      var body = new URLSearchParams();
      body.set("i", token);
      body.set("csrf_token", box.getAttribute("data-csrf"));
      fetch("/interaction/extend", {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (r) {
        return r.json().then(function (j) { return {ok: r.ok, j: j}; });
      }).then(function (res) {
        if (!res.ok) {
          say(res.j.message || box.getAttribute("data-msg-failed"));
          if (res.j.error !== "csrf") more.hidden = true;
          return;
        }
        swap(token, res.j.i);
        token = res.j.i;
        box.setAttribute("data-i", token);
        left = res.j.extensions_left;
        deadline = Date.now() + res.j.seconds * 1000;
        limitText.textContent = res.j.limit_text;
        more.hidden = true;
        say(res.j.message);
        schedule();
      }).catch(function () {
        say(box.getAttribute("data-msg-failed"));
      });
    });
    schedule();
  }
})();
