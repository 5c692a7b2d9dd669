// Sends the SAML message at once; the form's button does it without
// scripts.
document.getElementById("sso-post").submit();
