// Passkeys for GovID (WebAuthn discoverable credentials): "Sign in with a passkey" on
// the sign-in page (and passkeys offered by the browser's autofill: conditional
// mediation), "Add a passkey" after sign-in. Needs static/keys.js first. No inline
// script: CSP script-src 'self'.
(function () {
  "use strict";
  var K = window.GovIDKeys, Refusal = K.Refusal, post = K.post, text = K.text, show = K.show,
      explain = K.explain, credentialJSON = K.credentialJSON;
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
      var req = {publicKey: K.requestOptions(res.options)};
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
  var add = document.getElementById("passkey-add");
  if (add) add.addEventListener("click", function () {
    var i = add.dataset.i, csrf = add.dataset.csrf;
    show("");
    if (!supported) { show(text("unsupported")); return; }
    post("/passkey/register/options", csrf, {}).then(function (res) {
      return navigator.credentials.create({publicKey: K.creationOptions(res.options)}).then(function (cred) {
        var label = document.getElementById("key-label");
        return post("/passkey/register", csrf, {i: i || "", state: res.state, credential: credentialJSON(cred),
                                                label: (label && label.value) || ""});
      });
    }).then(function (res) {
      if (res.recovery_codes) K.recoveryCodes(csrf);  // a first factor, on the account page
      else if (res.redirect) window.location.assign(res.redirect);
      else show(text("generic"));
    }).catch(explain);
  });
})();
