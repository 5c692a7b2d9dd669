// Polls a push request's status for the form that carries
// data-push-status and submits it once the device answered, so the user
// need not press the button. Without scripts the button still works.
(function () {
  "use strict";
  var form = document.querySelector("form[data-push-status]");
  if (!form) return;
  var message = document.getElementById(form.dataset.pushMessage);
  var texts = {
    denied: "The request was denied. Go back to try again or use another way.",
    expired: "The request expired. Go back to send a new one."
  };
  async function poll() {
    try {
      var res = await fetch(form.dataset.pushStatus, {credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (res.ok) {
        var status = (await res.json()).status;
        if (status === "approved") {
          form.submit();
          return;
        }
        if (texts[status]) {
          if (message) message.textContent = texts[status];
          return;
        }
      }
    } catch (e) {
      // A network hiccup: try again on the next tick.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
