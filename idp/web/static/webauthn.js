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
    }).then(function (r) { return r.json().then(function (j) { j._status = r.status; return j; }); });
  }
  function show(message) {
    var el = document.getElementById("webauthn-status");
    if (!el) {
      el = document.createElement("p");
      el.id = "webauthn-status"; el.setAttribute("role", "alert"); el.className = "error";
      document.querySelector("main").appendChild(el);
    }
    el.textContent = message;
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
    post("/mfa/webauthn/options", csrf, {i: i}).then(function (res) {
      var o = res.options;
      o.challenge = b64urlToBuf(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
      return navigator.credentials.get({publicKey: o}).then(function (cred) {
        return post("/mfa/webauthn/verify", csrf, {i: i, state: res.state, credential: credentialJSON(cred)});
      });
    }).then(function (res) {
      if (res.redirect) window.location.assign(res.redirect); else show(res.error || "error");
    }).catch(function (e) { show(String(e)); });
  });
  var reg = document.getElementById("webauthn-register");
  if (reg) reg.addEventListener("click", function () {
    var csrf = reg.dataset.csrf;
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
      if (res.redirect) window.location.assign(res.redirect); else show(res.error || "error");
    }).catch(function (e) { show(String(e)); });
  });
})();
