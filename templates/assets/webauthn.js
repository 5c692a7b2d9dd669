// Runs a WebAuthn ceremony for the button that carries data-webauthn
// ("register" or "login"): fetches the options, asks the browser's
// authenticator, and posts the answer. The server answers with where to
// go next. Without scripts the page's other forms still work.
(function () {
  "use strict";
  function dec(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), a = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) a[i] = bin.charCodeAt(i);
    return a.buffer;
  }
  function enc(buf) {
    var a = new Uint8Array(buf), s = "";
    for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function fail(status, message) {
    status.textContent = message;
    status.hidden = false;
  }
  async function run(button) {
    var kind = button.dataset.webauthn, status = document.getElementById(button.dataset.status);
    var headers = {"X-CSRF-Token": button.dataset.csrf};
    button.disabled = true;
    try {
      var res = await fetch(button.dataset.begin, {method: "POST", headers: headers, credentials: "same-origin"});
      if (!res.ok) throw new Error("begin");
      var pk = (await res.json()).publicKey;
      pk.challenge = dec(pk.challenge);
      var cred;
      if (kind === "register") {
        pk.user.id = dec(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) { c.id = dec(c.id); });
        cred = await navigator.credentials.create({publicKey: pk});
      } else {
        (pk.allowCredentials || []).forEach(function (c) { c.id = dec(c.id); });
        cred = await navigator.credentials.get({publicKey: pk});
      }
      var r = cred.response, out = {
        id: cred.id, rawId: enc(cred.rawId), type: cred.type,
        authenticatorAttachment: cred.authenticatorAttachment,
        clientExtensionResults: cred.getClientExtensionResults(),
        response: {clientDataJSON: enc(r.clientDataJSON)}
      };
      if (kind === "register") {
        out.response.attestationObject = enc(r.attestationObject);
        out.response.transports = r.getTransports ? r.getTransports() : [];
      } else {
        out.response.authenticatorData = enc(r.authenticatorData);
        out.response.signature = enc(r.signature);
        if (r.userHandle) out.response.userHandle = enc(r.userHandle);
      }
      headers["Content-Type"] = "application/json";
      var done = await fetch(button.dataset.finish, {method: "POST", headers: headers, credentials: "same-origin", body: JSON.stringify(out)});
      var next = await done.json();
      if (!done.ok) throw new Error(next.error || "finish");
      window.location.assign(next.next);
    } catch (e) {
      fail(status, e && e.message && e.message.length > 12 ? e.message : "Your security key did not complete the check. Try again, or use another way below.");
      button.disabled = false;
    }
  }
  document.querySelectorAll("[data-webauthn]").forEach(function (b) {
    b.hidden = !window.PublicKeyCredential;
    b.addEventListener("click", function () { run(b); });
  });
})();
