// What the key buttons share (static/webauthn.js: security keys and recovery by key;
// static/passkey.js: passkeys): base64url, the JSON POST with the CSRF header, GovID's
// refusals, the status line, the credential as JSON, the options as the browser wants
// them. Load it before either. No inline script: CSP script-src 'self'.
// Texts come from the page (data-msg-* on #webauthn-status, rendered from the i18n
// table): no words of its own.
window.GovIDKeys = (function () {
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
  // A refusal from GovID: its code and its message in the page's language.
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
    el.textContent = "";  // a change, so the same message is announced again
    window.setTimeout(function () { el.textContent = message; }, 50);
  }
  function clear() {
    var el = status();
    if (el) el.textContent = "";
  }
  // What went wrong, said for a person: GovID's refusal as GovID worded it, or what the
  // browser's error (WebAuthn §5.1.3/§5.1.4 names) means.
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
  // GovID's options (base64url strings) as navigator.credentials.get / create take them.
  function requestOptions(o) {
    o.challenge = b64urlToBuf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }
  function creationOptions(o) {
    o.challenge = b64urlToBuf(o.challenge);
    o.user.id = b64urlToBuf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }
  // A form POST of hidden fields (what it carries never goes in the address bar).
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
  // A first factor on an account without recovery codes: make them now (a form POST,
  // so the codes page is shown once, like after setting up an app).
  function recoveryCodes(csrf) { postForm("/account/recovery", {csrf_token: csrf}); }
  return {Refusal: Refusal, post: post, text: text, show: show, clear: clear, explain: explain,
          credentialJSON: credentialJSON, requestOptions: requestOptions,
          creationOptions: creationOptions, postForm: postForm, recoveryCodes: recoveryCodes};
})();
