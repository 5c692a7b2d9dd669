package templates_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/templates"
)

func sampleMFASMS() templates.MFASMS {
	return templates.MFASMS{
		Page: acme("Enter the code we texted you"), Email: "jane@acme.example", PhoneEnding: "1234",
		Action: "/.partnergate/mfa/sms/verify", ResendAction: "/.partnergate/mfa/sms/resend",
		CSRFToken: "csrf-sms", RememberDays: 30,
		BackURL: "/.partnergate/mfa", CancelURL: "/.partnergate/login",
	}
}

func sampleMFAPush() templates.MFAPush {
	return templates.MFAPush{
		Page: acme("Approve the request on your device"), Email: "jane@acme.example", Number: 47,
		Action: "/.partnergate/mfa/push/continue", StatusURL: "/.partnergate/mfa/push/status",
		ScriptURL: "/.partnergate/assets/push.js", CSRFToken: "csrf-push", RememberDays: 30,
		BackURL: "/.partnergate/mfa", CancelURL: "/.partnergate/login",
	}
}

// everySMSPushPage lists the SMS and push pages and variants for
// everyPage, with every optional part shown.
func everySMSPushPage() []struct {
	name, page string
	data       any
} {
	sms, push := sampleMFASMS(), sampleMFAPush()
	sms.Error, push.Error = "x", "x"
	// The strict-CSP check runs on these: the push page without its
	// polling script is the one that must work under it.
	push.ScriptURL = ""
	mfa := sampleMFA()
	mfa.SMSAction, mfa.PushAction = "/.partnergate/mfa/sms/send", "/.partnergate/mfa/push/send"
	mfa.SMSPhones = []templates.Choice{{Value: "m1", Label: "Phone ending 1234"}, {Value: "m2", Label: "Phone ending 9876"}}
	enroll := sampleMFAEnroll()
	enroll.SMSAction, enroll.PushAction = "/.partnergate/mfa/sms/enroll", "/.partnergate/mfa/push/enroll"
	smsOnly := templates.MFAEnroll{Page: acme("Set up"), Email: "jane@acme.example", CSRFToken: "c", SMSAction: "/.partnergate/mfa/sms/enroll", Error: "x"}
	return []struct {
		name, page string
		data       any
	}{
		{"mfa_sms", templates.PageMFASMS, sms},
		{"mfa_push", templates.PageMFAPush, push},
		{"mfa with sms and push", templates.PageMFA, mfa},
		{"mfa_enroll with sms and push", templates.PageMFAEnroll, enroll},
		{"mfa_enroll sms only", templates.PageMFAEnroll, smsOnly},
	}
}

func TestMFASMSPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageMFASMS, sampleMFASMS())
	main := find(t, doc, "main", tag("main"))
	checkUniqueIDs(t, doc)
	if got := text(find(t, main, "lede", hasClass("lede"))); !strings.Contains(got, "1234") || !strings.Contains(got, "jane@acme.example") {
		t.Errorf("lede = %q, want the phone's ending and the account", got)
	}
	forms := findAll(main, tag("form"))
	if len(forms) != 2 {
		t.Fatalf("%d forms, want the code's and resend", len(forms))
	}
	if got := checkForm(t, forms[0], "/.partnergate/mfa/sms/verify", "csrf-sms"); got != "Verify" {
		t.Errorf("code form button = %q", got)
	}
	if got := checkForm(t, forms[1], "/.partnergate/mfa/sms/resend", "csrf-sms"); got != "Send a new code" {
		t.Errorf("resend button = %q", got)
	}
	code := find(t, forms[0], "code input", input("code"))
	for name, want := range map[string]string{"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "7"} {
		if got, _ := attr(code, name); got != want {
			t.Errorf("code %s = %q, want %q", name, got, want)
		}
	}
	if got := labelFor(t, doc, code); got != "Code from the text message" {
		t.Errorf("code label = %q", got)
	}
	find(t, forms[0], "remember checkbox", input("remember"))
	if len(findAll(doc, tag("script"))) != 0 {
		t.Error("the SMS page loads a script")
	}
}

func TestMFAPushPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageMFAPush, sampleMFAPush())
	main := find(t, doc, "main", tag("main"))
	checkUniqueIDs(t, doc)
	if got := text(find(t, main, "number", hasClass("push-number"))); got != "47" {
		t.Errorf("number = %q", got)
	}
	form := find(t, main, "form", tag("form"))
	if got := checkForm(t, form, "/.partnergate/mfa/push/continue", "csrf-push"); got != "I approved it, continue" {
		t.Errorf("continue button = %q", got)
	}
	if got, _ := attr(form, "data-push-status"); got != "/.partnergate/mfa/push/status" {
		t.Errorf("data-push-status = %q", got)
	}
	script := find(t, doc, "script", tag("script"))
	if got, _ := attr(script, "src"); got != "/.partnergate/assets/push.js" {
		t.Errorf("script src = %q", got)
	}
	find(t, form, "remember checkbox", input("remember"))
}

func TestMFAPageOffersSMSAndPush(t *testing.T) {
	t.Parallel()
	data := sampleMFA()
	data.TOTPAction = ""
	data.SMSAction, data.PushAction = "/.partnergate/mfa/sms/send", "/.partnergate/mfa/push/send"
	data.SMSPhones = []templates.Choice{{Value: "m1", Label: "Phone ending 1234"}}
	_, doc := render(t, templates.PageMFA, data)
	main := find(t, doc, "main", tag("main"))
	forms := findAll(main, tag("form"))
	if len(forms) != 3 {
		t.Fatalf("%d forms, want push, SMS and recovery", len(forms))
	}
	if got := checkForm(t, forms[0], "/.partnergate/mfa/push/send", "csrf-mfa"); got != "Send a push request" {
		t.Errorf("push button = %q", got)
	}
	if got := checkForm(t, forms[1], "/.partnergate/mfa/sms/send", "csrf-mfa"); got != "Text me a code (Phone ending 1234)" {
		t.Errorf("SMS button = %q", got)
	}
	if got, _ := attr(find(t, forms[1], "method id", input("method_id")), "value"); got != "m1" {
		t.Errorf("method_id = %q", got)
	}
	// With another way offered, the recovery code folds away.
	if forms[2].Parent.Data != "details" {
		t.Error("recovery form is not folded away")
	}
	if got := text(find(t, main, "lede", hasClass("lede"))); !strings.Contains(got, "Choose how") {
		t.Errorf("lede = %q", got)
	}
}

func TestMFAEnrollPageSMSAndPush(t *testing.T) {
	t.Parallel()
	data := templates.MFAEnroll{
		Page: acme("Set up two-step verification"), Email: "jane@acme.example", CSRFToken: "csrf-enroll",
		SMSAction: "/.partnergate/mfa/sms/enroll", PushAction: "/.partnergate/mfa/push/enroll",
	}
	_, doc := render(t, templates.PageMFAEnroll, data)
	main := find(t, doc, "main", tag("main"))
	checkUniqueIDs(t, doc)
	if len(findAll(main, tag("img"))) != 0 || len(findAll(main, hasClass("steps"))) != 0 {
		t.Error("app set-up steps shown without an app action")
	}
	forms := findAll(main, tag("form"))
	if len(forms) != 2 {
		t.Fatalf("%d forms, want SMS and push", len(forms))
	}
	if got := checkForm(t, forms[0], "/.partnergate/mfa/sms/enroll", "csrf-enroll"); got != "Text me a code" {
		t.Errorf("SMS button = %q", got)
	}
	phone := find(t, forms[0], "phone", input("phone"))
	if got, _ := attr(phone, "type"); got != "tel" {
		t.Errorf("phone type = %q", got)
	}
	if got := labelFor(t, doc, phone); got != "Mobile phone number" {
		t.Errorf("phone label = %q", got)
	}
	if got := checkForm(t, forms[1], "/.partnergate/mfa/push/enroll", "csrf-enroll"); got != "Send a push request" {
		t.Errorf("push button = %q", got)
	}
	if got := labelFor(t, doc, find(t, forms[1], "device id", input("device_id"))); got != "Device ID" {
		t.Errorf("device label = %q", got)
	}
}

// TestMFASMSPushEscaping: names and labels are text, never markup.
func TestMFASMSPushEscaping(t *testing.T) {
	t.Parallel()
	const evil = `<script>alert(1)</script>`
	data := sampleMFA()
	data.SMSAction = "/.partnergate/mfa/sms/send"
	data.SMSPhones = []templates.Choice{{Value: `"><x`, Label: evil}}
	src, doc := render(t, templates.PageMFA, data)
	if strings.Contains(src, evil) || len(findAll(doc, func(n *html.Node) bool { return n.Data == "x" })) != 0 {
		t.Error("a phone's label or id became markup")
	}
	sms := sampleMFASMS()
	sms.PhoneEnding, sms.Email = evil, evil
	if src, _ := render(t, templates.PageMFASMS, sms); strings.Contains(src, evil) {
		t.Error("the SMS page let markup through")
	}
}
