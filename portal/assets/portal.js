// Progressive enhancement only: every page works without this script.
// Copy buttons copy the value of the field they name.
document.addEventListener("click", function (e) {
  var button = e.target.closest("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done);
  } else {
    field.select();
    document.execCommand("copy");
    done();
  }
});
// The branding editor's preview follows the form as it is typed in.
document.addEventListener("input", function (e) {
  var form = e.target.closest("[data-preview]");
  if (!form) return;
  var frame = document.getElementById(form.getAttribute("data-preview"));
  if (!frame || !frame.contentDocument) return;
  var root = frame.contentDocument.documentElement;
  var field = e.target;
  if (field.type === "color" && /^#[0-9a-fA-F]{6}$/.test(field.value)) {
    var target = document.getElementById(field.getAttribute("data-mirror"));
    if (target) target.value = field.value;
    root.style.setProperty(field.getAttribute("data-var"), field.value);
  }
  var text = field.getAttribute("data-text");
  if (text) {
    var node = frame.contentDocument.querySelector(text);
    if (node) node.textContent = field.value;
  }
});
