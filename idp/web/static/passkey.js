// Passkeys for GovID (WebAuthn discoverable credentials): "Sign in with a passkey" on
// the sign-in page (and passkeys offered by the browser's autofill: conditional
// mediation), "Add a passkey" after sign-in. No inline script: CSP script-src 'self'.
// Texts come from the page (data-msg-* on #webauthn-status): no words of its own.
(function () {
  "use strict";
  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), buf = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
    return buf.buffer;
  }
  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function Refusal(body) { this.body = body || {}; }
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Refusal(j);
        return j;
      });
    }, function () { throw new Refusal({error: "network"}); });
  }
  function status() { return document.getElementById("webauthn-status"); }
  function text(name) {
    var el = status();
    return (el && (el.getAttribute("data-msg-" + name) || el.getAttribute("data-msg-generic"))) || "";
  }
  function show(message) {
    var el = status();
    if (!el) return;
    el.textContent = "";
    window.setTimeout(function () { el.textContent = message; }, 50);
  }
  function explain(e) {
    if (e instanceof Refusal) {
      if (e.body.step_up) { window.location.assign(e.body.step_up); return; }
      show(e.body.error === "network" ? text("network") : (e.body.message || text("generic")));
      return;
    }
    var name = e && e.name;
    if (name === "NotAllowedError" || name === "AbortError") show(text("cancelled"));
    else if (name === "InvalidStateError") show(text("exists"));
    else if (name === "NotSupportedError") show(text("unsupported"));
    else if (name === "SecurityError") show(text("security"));
    else show(text("generic"));
  }
  function credentialJSON(c) {
    var r = c.response, out = {id: c.id, rawId: bufToB64url(c.rawId), type: c.type, response: {},
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {}};
    out.response.clientDataJSON = bufToB64url(r.clientDataJSON);
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    }
    if (r.authenticatorData) {
      out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      out.response.userHandle = r.userHandle ? bufToB64url(r.userHandle) : null;
    }
    return out;
  }
  var supported = !!(window.PublicKeyCredential && navigator.credentials);

  // ---- sign in
  var start = document.getElementById("passkey-start");
  var conditional = null;  // {controller, done}: the autofill request, if any
  // The step and the CSRF token come from the sign-in form's own hidden fields.
  function field(name) {
    var el = document.querySelector("form[action='/login'] input[name='" + name + "']");
    return el ? el.value : "";
  }
  function signIn(mediation) {
    var i = field("i"), csrf = field("csrf_token");
    return post("/login/passkey/options", csrf, {i: i}).then(function (res) {
      var o = res.options, req = {publicKey: o};
      o.challenge = b64urlToBuf(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      if (mediation) {
        var controller = new AbortController();
        req.mediation = "conditional"; req.signal = controller.signal;
        var got = navigator.credentials.get(req);
        conditional = {controller: controller, done: got.then(function () {}, function () {})};
        return got.then(function (cred) { return finish(i, csrf, res.state, cred); });
      }
      return navigator.credentials.get(req).then(function (cred) { return finish(i, csrf, res.state, cred); });
    });
  }
  function finish(i, csrf, state, cred) {
    return post("/login/passkey/verify", csrf, {i: i, state: state, credential: credentialJSON(cred)})
      .then(function (res) {
        if (res.redirect) window.location.assign(res.redirect); else show(text("generic"));
      });
  }
  if (start && supported) {
    start.hidden = false;
    var intro = document.getElementById("passkey-or");
    if (intro) intro.hidden = false;
    start.addEventListener("click", function () {
      show("");
      // One WebAuthn request at a time: end the autofill one first.
      var before = Promise.resolve();
      if (conditional) { conditional.controller.abort(); before = conditional.done; conditional = null; }
      before.then(function () { return signIn(false); }).catch(explain);
    });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) return;
        signIn(true).catch(function (e) {
          if (e instanceof Refusal) explain(e);  // GovID's refusal; a cancelled autofill is quiet
        });
      }, function () {});
    }
  }

  // ---- add a passkey
  // A first factor added on the account page: its recovery codes now (a form POST, so
  // the codes page is shown once).
  function recoveryCodes(csrf) {
    var form = document.createElement("form"), input = document.createElement("input");
    form.method = "post"; form.action = "/account/recovery";
    input.type = "hidden"; input.name = "csrf_token"; input.value = csrf;
    form.appendChild(input); document.body.appendChild(form); form.submit();
  }
  var add = document.getElementById("passkey-add");
  if (add) add.addEventListener("click", function () {
    var i = add.dataset.i, csrf = add.dataset.csrf;
    show("");
    if (!supported) { show(text("unsupported")); return; }
    post("/passkey/register/options", csrf, {}).then(function (res) {
      var o = res.options;
      o.challenge = b64urlToBuf(o.challenge);
      o.user.id = b64urlToBuf(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      return navigator.credentials.create({publicKey: o}).then(function (cred) {
        var label = document.getElementById("key-label");
        return post("/passkey/register", csrf, {i: i || "", state: res.state, credential: credentialJSON(cred),
                                                label: (label && label.value) || ""});
      });
    }).then(function (res) {
      if (res.recovery_codes) recoveryCodes(csrf);
      else if (res.redirect) window.location.assign(res.redirect);
      else show(text("generic"));
    }).catch(explain);
  });
})();
