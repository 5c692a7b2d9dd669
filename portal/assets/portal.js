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
// The branding editor's preview follows the form as it is typed in: a
// colour from its picker or its hex field (each mirrors the other), with
// the text on it chosen as the server chooses it, white or dark,
// whichever contrasts more (WCAG relative luminance).
function luminance(hex) {
  var c = [1, 3, 5].map(function (i) {
    var v = parseInt(hex.substr(i, 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function textOn(hex) {
  var bg = luminance(hex);
  var contrast = function (fg) {
    var a = Math.max(bg, fg), b = Math.min(bg, fg);
    return (a + 0.05) / (b + 0.05);
  };
  return contrast(luminance("#ffffff")) >= contrast(luminance("#111827")) ? "#ffffff" : "#111827";
}
document.addEventListener("input", function (e) {
  var form = e.target.closest("[data-preview]");
  if (!form) return;
  var frame = document.getElementById(form.getAttribute("data-preview"));
  if (!frame || !frame.contentDocument) return;
  var root = frame.contentDocument.documentElement;
  var field = e.target;
  var name = field.getAttribute("data-var");
  if (name && /^#[0-9a-fA-F]{6}$/.test(field.value)) {
    var other = document.getElementById(field.getAttribute("data-mirror"));
    if (other) other.value = field.value.toLowerCase();
    root.style.setProperty(name, field.value);
    root.style.setProperty(name.replace("--", "--on-"), textOn(field.value));
  }
  var text = field.getAttribute("data-text");
  if (text) {
    var node = frame.contentDocument.querySelector(text);
    if (node) node.textContent = field.value;
  }
});
