// Security-key buttons for GovID (WebAuthn). No inline script: CSP script-src 'self'.
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
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        j._status = r.status;
        if (!r.ok) throw new Refusal(j);
        return j;
      });
    }, function () { throw new Refusal({error: "network"}); });
  }
  // A refusal from GovID: its code and its message in the page's language.
  function Refusal(body) { this.body = body || {}; }
  // Texts come from the page (data-msg-* on #webauthn-status, rendered from the
  // i18n table): this script holds no words of its own.
  function text(name) {
    var el = document.getElementById("webauthn-status");
    return (el && el.getAttribute("data-msg-" + name)) || (el && el.getAttribute("data-msg-generic")) || "";
  }
  function show(message) {
    var el = document.getElementById("webauthn-status");
    if (!el) return;
    el.textContent = "";  // a change, so the same message is announced again
    window.setTimeout(function () { el.textContent = message; }, 50);
  }
  function clear() {
    var el = document.getElementById("webauthn-status");
    if (el) el.textContent = "";
  }
  // What went wrong, said for a person: GovID's refusal as GovID worded it, or what the
  // browser's error (WebAuthn §5.1.3/§5.1.4 names) means.
  function explain(e) {
    if (e instanceof Refusal) {
      if (e.body.step_up) { window.location.assign(e.body.step_up); return; }
      if (e.body.error === "network") { show(text("network")); return; }
      show(e.body.message || text("generic"));
      return;
    }
    var name = e && e.name;
    if (name === "NotAllowedError" || name === "AbortError") show(text("cancelled"));
    else if (name === "InvalidStateError") show(text("exists"));
    else if (name === "NotSupportedError") show(text("unsupported"));
    else if (name === "SecurityError") show(text("security"));
    else show(text("generic"));
  }
  function supported() {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    show(text("unsupported"));
    return false;
  }
  function credentialJSON(c) {
    var out = {id: c.id, rawId: bufToB64url(c.rawId), type: c.type, response: {},
               clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {}};
    var r = c.response;
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
  var start = document.getElementById("webauthn-start");
  if (start) start.addEventListener("click", function () {
    var i = start.dataset.i, csrf = start.dataset.csrf;
    clear();
    if (!supported()) return;
    post("/mfa/webauthn/options", csrf, {i: i}).then(function (res) {
      var o = res.options;
      o.challenge = b64urlToBuf(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      return navigator.credentials.get({publicKey: o}).then(function (cred) {
        return post("/mfa/webauthn/verify", csrf, {i: i, state: res.state, credential: credentialJSON(cred)});
      });
    }).then(function (res) {
      if (res.redirect) window.location.assign(res.redirect); else show(text("generic"));
    }).catch(explain);
  });
  // Forgot password: prove a security key or passkey, then the new-password form (a
  // form POST carrying the signed proof: never in the address bar).
  function postForm(action, fields) {
    var form = document.createElement("form");
    form.method = "post"; form.action = action;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = fields[name];
      form.appendChild(input);
    });
    document.body.appendChild(form); form.submit();
  }
  var recover = document.getElementById("recover-key");
  if (recover) recover.addEventListener("click", function () {
    var r = recover.dataset.r, csrf = recover.dataset.csrf;
    clear();
    if (!supported()) return;
    post("/recover/key/options", csrf, {r: r}).then(function (res) {
      var o = res.options;
      o.challenge = b64urlToBuf(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      return navigator.credentials.get({publicKey: o}).then(function (cred) {
        return post("/recover/key/verify", csrf, {r: r, state: res.state, credential: credentialJSON(cred)});
      });
    }).then(function (res) {
      if (res.proof) postForm("/recover/password", {csrf_token: csrf, proof: res.proof});
      else show(text("generic"));
    }).catch(explain);
  });
  // A first key on an account without recovery codes: make them now (a form POST, so
  // the codes page is shown once, like after setting up an app).
  function makeRecoveryCodes(csrf) {
    var form = document.createElement("form"), input = document.createElement("input");
    form.method = "post"; form.action = "/account/recovery";
    input.type = "hidden"; input.name = "csrf_token"; input.value = csrf;
    form.appendChild(input); document.body.appendChild(form); form.submit();
  }
  var reg = document.getElementById("webauthn-register");
  if (reg) reg.addEventListener("click", function () {
    var csrf = reg.dataset.csrf;
    clear();
    if (!supported()) return;
    post("/account/webauthn/options", csrf, {}).then(function (res) {
      var o = res.options;
      o.challenge = b64urlToBuf(o.challenge);
      o.user.id = b64urlToBuf(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      return navigator.credentials.create({publicKey: o}).then(function (cred) {
        var label = document.getElementById("key-label");
        return post("/account/webauthn/register", csrf, {state: res.state, credential: credentialJSON(cred),
                                                          label: label ? label.value : ""});
      });
    }).then(function (res) {
      if (res.recovery_codes) makeRecoveryCodes(csrf);
      else if (res.redirect) window.location.assign(res.redirect);
      else show(text("generic"));
    }).catch(explain);
  });
})();
