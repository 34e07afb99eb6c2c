// Security-key buttons for GovID (WebAuthn): the second step, recovery by key, adding a
// key. Needs static/keys.js first. No inline script: CSP script-src 'self'.
(function () {
  "use strict";
  var K = window.GovIDKeys, post = K.post, text = K.text, show = K.show, clear = K.clear,
      explain = K.explain, credentialJSON = K.credentialJSON;
  function supported() {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    show(text("unsupported"));
    return false;
  }
  var start = document.getElementById("webauthn-start");
  if (start) start.addEventListener("click", function () {
    var i = start.dataset.i, csrf = start.dataset.csrf;
    clear();
    if (!supported()) return;
    post("/mfa/webauthn/options", csrf, {i: i}).then(function (res) {
      return navigator.credentials.get({publicKey: K.requestOptions(res.options)}).then(function (cred) {
        return post("/mfa/webauthn/verify", csrf, {i: i, state: res.state, credential: credentialJSON(cred)});
      });
    }).then(function (res) {
      if (res.redirect) window.location.assign(res.redirect); else show(text("generic"));
    }).catch(explain);
  });
  // Forgot password: prove a security key or passkey, then the new-password form (a
  // form POST carrying the signed proof: never in the address bar).
  var recover = document.getElementById("recover-key");
  if (recover) recover.addEventListener("click", function () {
    var r = recover.dataset.r, csrf = recover.dataset.csrf;
    clear();
    if (!supported()) return;
    post("/recover/key/options", csrf, {r: r}).then(function (res) {
      return navigator.credentials.get({publicKey: K.requestOptions(res.options)}).then(function (cred) {
        return post("/recover/key/verify", csrf, {r: r, state: res.state, credential: credentialJSON(cred)});
      });
    }).then(function (res) {
      if (res.proof) K.postForm("/recover/password", {csrf_token: csrf, proof: res.proof});
      else show(text("generic"));
    }).catch(explain);
  });
  var reg = document.getElementById("webauthn-register");
  if (reg) reg.addEventListener("click", function () {
    var csrf = reg.dataset.csrf;
    clear();
    if (!supported()) return;
    post("/account/webauthn/options", csrf, {}).then(function (res) {
      return navigator.credentials.create({publicKey: K.creationOptions(res.options)}).then(function (cred) {
        var label = document.getElementById("key-label");
        return post("/account/webauthn/register", csrf, {state: res.state, credential: credentialJSON(cred),
                                                          label: label ? label.value : ""});
      });
    }).then(function (res) {
      if (res.recovery_codes) K.recoveryCodes(csrf);
      else if (res.redirect) window.location.assign(res.redirect);
      else show(text("generic"));
    }).catch(explain);
  });
})();
