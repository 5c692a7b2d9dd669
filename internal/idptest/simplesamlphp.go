package idptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SimpleSAMLphpDir is where Debian's simplesamlphp package installs the
// application; its www/ directory is the document root.
const SimpleSAMLphpDir = "/usr/share/simplesamlphp"

// SAML identifiers SimpleSAMLphp is configured with.
const (
	nameIDEmail      = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	attrFormatBasic  = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	rsaSHA256        = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	bindingPOST      = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	bindingRedirect  = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	samlStartTimeout = 10 * time.Second
)

// SAMLServiceProvider is the SP that the IdP will answer.
type SAMLServiceProvider struct {
	EntityID string
	// ACSURL receives the Response (HTTP-POST binding).
	ACSURL string
	// SLOURL, if set, is the SP's SingleLogoutService (HTTP-Redirect and
	// HTTP-POST bindings); the IdP signs the logout messages it sends
	// there (sign.logout).
	SLOURL string
	// CertificatePEM is the SP's signing certificate. When set, the IdP
	// requires signed AuthnRequests (validate.authnrequest) and refuses
	// unsigned ones.
	CertificatePEM []byte
}

// SAMLUser is an account the IdP accepts at its login form, with the
// attributes it releases. Attribute names in the assertion are exactly
// email, firstName, lastName, displayName and groups.
type SAMLUser struct {
	Username, Password, Email, GivenName, FamilyName string
	Groups                                           []string
}

// DisplayName is the displayName attribute the IdP releases for u.
func (u SAMLUser) DisplayName() string { return u.GivenName + " " + u.FamilyName }

// SAMLIdP is a running SimpleSAMLphp IdP.
type SAMLIdP struct {
	// BaseURL is http://127.0.0.1:PORT, without a trailing slash.
	BaseURL string
	// EntityID equals MetadataURL, as SimpleSAMLphp's default.
	EntityID    string
	MetadataURL string
	// MetadataXML is the IdP's EntityDescriptor as served at MetadataURL:
	// the signing certificate and the SSO/SLO endpoints.
	MetadataXML []byte
	// Users are alice (groups engineering, admins) and bob (group sales),
	// with passwords made up for this run.
	Users []SAMLUser
}

// SSOURL is the IdP's SingleSignOnService (HTTP-Redirect and HTTP-POST).
func (idp *SAMLIdP) SSOURL() string { return idp.BaseURL + "/saml2/idp/SSOService.php" }

// User returns the user with that username, or fails the test.
func (idp *SAMLIdP) User(t testing.TB, username string) SAMLUser {
	t.Helper()
	for _, u := range idp.Users {
		if u.Username == username {
			return u
		}
	}
	t.Fatalf("idptest: SimpleSAMLphp has no user %q", username)
	return SAMLUser{}
}

// StartSimpleSAMLphp runs SimpleSAMLphp as a SAML 2.0 IdP for sp on a free
// 127.0.0.1 port, with a fresh signing key, and stops it when the test
// ends. It signs both the Response and the Assertion with RSA-SHA256 and
// sends the email attribute as an emailAddress NameID.
//
// It needs php and the simplesamlphp package (scripts/test.sh installs
// them): without them the test is skipped, or fails when CI=true.
func StartSimpleSAMLphp(t testing.TB, sp SAMLServiceProvider) *SAMLIdP {
	t.Helper()
	php := requireTool(t, "php", "simplesamlphp php-cli php-xml php-mbstring")
	if _, err := os.Stat(filepath.Join(SimpleSAMLphpDir, "www", "index.php")); err != nil {
		missingTool(t, SimpleSAMLphpDir, "simplesamlphp php-cli php-xml php-mbstring")
	}

	// The port is free when picked but may be taken before php binds
	// it (other tests start servers too): then start again elsewhere.
	var lastErr error
	for range 5 {
		idp, err := startSimpleSAMLphp(t, php, sp)
		if err == nil {
			return idp
		}
		if !errors.Is(err, errPortTaken) {
			t.Fatalf("idptest: %v", err)
		}
		lastErr = err
	}
	t.Fatalf("idptest: %v", lastErr)
	return nil
}

// errPortTaken is a php that could not listen on the port picked for it.
var errPortTaken = errors.New("the port was taken before php could listen on it")

func startSimpleSAMLphp(t testing.TB, php string, sp SAMLServiceProvider) (*SAMLIdP, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	idp := &SAMLIdP{
		BaseURL:     base,
		EntityID:    base + "/saml2/idp/metadata.php",
		MetadataURL: base + "/saml2/idp/metadata.php",
		Users: []SAMLUser{
			{Username: "alice", Password: randomHex(t, 8), Email: "alice@example.com",
				GivenName: "Alice", FamilyName: "Anderson", Groups: []string{"engineering", "admins"}},
			{Username: "bob", Password: randomHex(t, 8), Email: "bob@example.com",
				GivenName: "Bob", FamilyName: "Brown", Groups: []string{"sales"}},
		},
	}

	dir := t.TempDir()
	if err := writeSimpleSAMLphpConfig(t, dir, idp, sp); err != nil {
		return nil, fmt.Errorf("write SimpleSAMLphp config: %w", err)
	}

	logPath := filepath.Join(dir, "php.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(php, "-S", "127.0.0.1:"+strconv.Itoa(port), "-t", filepath.Join(SimpleSAMLphpDir, "www"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+filepath.Join(dir, "config"))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start php: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil && len(out) > 0 {
				t.Logf("SimpleSAMLphp log:\n%s", tail(out, 8<<10))
			}
		}
	})

	md, err := waitForMetadata(idp.MetadataURL, samlStartTimeout, exited)
	if err != nil {
		out, _ := os.ReadFile(logPath)
		if bytes.Contains(out, []byte("Address already in use")) {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("SimpleSAMLphp never served %s: %w\n%s", idp.MetadataURL, err, tail(out, 8<<10))
	}
	idp.MetadataXML = md
	return idp, nil
}

func writeSimpleSAMLphpConfig(t testing.TB, dir string, idp *SAMLIdP, sp SAMLServiceProvider) error {
	cfgDir := filepath.Join(dir, "config")
	mdDir := filepath.Join(dir, "metadata")
	certDir := filepath.Join(dir, "cert")
	// Sessions, temp and data stay in the test's directory: the package's
	// defaults under /var belong to the system install.
	sessDir := filepath.Join(dir, "sessions")
	tmpDir := filepath.Join(dir, "tmp")
	for _, d := range []string{cfgDir, mdDir, certDir, sessDir, tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}

	kp := newKeyPair(t, "idptest SimpleSAMLphp IdP")
	if err := os.WriteFile(filepath.Join(certDir, "idp.crt"), kp.CertPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(certDir, "idp.key"), kp.KeyPEM, 0o600); err != nil {
		return err
	}

	config := fmt.Sprintf(`<?php
$config = [
    // A full URL, so generated links point at the port PHP listens on.
    'baseurlpath' => %s,
    'certdir' => %s,
    'metadatadir' => %s,
    'loggingdir' => %s,
    'datadir' => %s,
    'tempdir' => %s,
    'secretsalt' => %s,
    'auth.adminpassword' => %s,
    'technicalcontact_name' => 'idptest',
    'technicalcontact_email' => 'idptest@example.com',
    'timezone' => 'UTC',

    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,
    'showerrors' => true,
    'errorreporting' => false,
    'production' => true,

    // PHP's built-in server writes stderr to the test's log file.
    'logging.level' => SimpleSAML\Logger::NOTICE,
    'logging.handler' => 'stderr',

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,
    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
    ],

    // Plain http on 127.0.0.1: secure cookies would never come back
    // (Go's cookie jar, like a browser, keeps them for https).
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,
    'session.phpsession.savepath' => %s,
    // PHP sessions need no server and work with php -S.
    'store.type' => 'phpsession',

    'metadata.sources' => [
        ['type' => 'flatfile'],
    ],
    // No attribute renaming or consent page: the SP sees exactly what
    // authsources.php says.
    'authproc.idp' => [],
];
`,
		phpString(idp.BaseURL+"/"), phpString(certDir+"/"), phpString(mdDir+"/"),
		phpString(dir+"/"), phpString(dir+"/"), phpString(tmpDir),
		phpString(randomHex(t, 32)), phpString(randomHex(t, 16)), phpString(sessDir))

	var users strings.Builder
	for _, u := range idp.Users {
		fmt.Fprintf(&users, "        %s => [\n", phpString(u.Username+":"+u.Password))
		fmt.Fprintf(&users, "            'uid' => [%s],\n", phpString(u.Username))
		fmt.Fprintf(&users, "            'email' => [%s],\n", phpString(u.Email))
		fmt.Fprintf(&users, "            'firstName' => [%s],\n", phpString(u.GivenName))
		fmt.Fprintf(&users, "            'lastName' => [%s],\n", phpString(u.FamilyName))
		fmt.Fprintf(&users, "            'displayName' => [%s],\n", phpString(u.DisplayName()))
		fmt.Fprintf(&users, "            'groups' => %s,\n", phpList(u.Groups))
		users.WriteString("        ],\n")
	}
	authsources := fmt.Sprintf(`<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
%s    ],
];
`, users.String())

	idpHosted := fmt.Sprintf(`<?php
$metadata[%s] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'signature.algorithm' => %s,
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'NameIDFormat' => %s,
    'simplesaml.nameidattribute' => 'email',
    'attributes.NameFormat' => %s,
];
`, phpString(idp.EntityID), phpString(rsaSHA256), phpString(nameIDEmail), phpString(attrFormatBasic))

	var spRemote strings.Builder
	fmt.Fprintf(&spRemote, "<?php\n$metadata[%s] = [\n", phpString(sp.EntityID))
	fmt.Fprintf(&spRemote, "    'AssertionConsumerService' => [\n        ['Binding' => %s, 'Location' => %s, 'index' => 0],\n    ],\n",
		phpString(bindingPOST), phpString(sp.ACSURL))
	if sp.SLOURL != "" {
		fmt.Fprintf(&spRemote, "    'SingleLogoutService' => [\n        ['Binding' => %s, 'Location' => %s],\n        ['Binding' => %s, 'Location' => %s],\n    ],\n",
			phpString(bindingRedirect), phpString(sp.SLOURL), phpString(bindingPOST), phpString(sp.SLOURL))
		// An SP acts on a LogoutRequest only when it is signed, as an
		// unsigned one would let anyone end a user's sessions.
		spRemote.WriteString("    'sign.logout' => true,\n")
	}
	if len(sp.CertificatePEM) > 0 {
		block, _ := pem.Decode(sp.CertificatePEM)
		if block == nil || block.Type != "CERTIFICATE" {
			return fmt.Errorf("SP CertificatePEM holds no CERTIFICATE block")
		}
		fmt.Fprintf(&spRemote, "    'certData' => %s,\n", phpString(base64.StdEncoding.EncodeToString(block.Bytes)))
		spRemote.WriteString("    'validate.authnrequest' => true,\n")
	}
	fmt.Fprintf(&spRemote, `    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'signature.algorithm' => %s,
    'NameIDFormat' => %s,
    'simplesaml.nameidattribute' => 'email',
    'attributes.NameFormat' => %s,
];
`, phpString(rsaSHA256), phpString(nameIDEmail), phpString(attrFormatBasic))

	files := map[string]string{
		filepath.Join(cfgDir, "config.php"):           config,
		filepath.Join(cfgDir, "authsources.php"):      authsources,
		filepath.Join(mdDir, "saml20-idp-hosted.php"): idpHosted,
		filepath.Join(mdDir, "saml20-sp-remote.php"):  spRemote.String(),
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// waitForMetadata polls until the IdP serves its metadata: the first answer
// means PHP runs and the whole configuration parses. It gives up at once
// when php has exited.
func waitForMetadata(url string, timeout time.Duration, exited <-chan struct{}) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for {
		body, err := getMetadata(ctx, client, url)
		if err == nil {
			return body, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, lastErr
		case <-exited:
			return nil, fmt.Errorf("php exited: %w", lastErr)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func getMetadata(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("EntityDescriptor")) {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, tail(body, 2<<10))
	}
	return body, nil
}

// requireTool returns the path of name, or skips the test when it is not
// installed; under CI=true it fails instead, so CI cannot go green by
// testing nothing.
func requireTool(t testing.TB, name, packages string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missingTool(t, name, packages)
	}
	return path
}

func missingTool(t testing.TB, what, packages string) {
	t.Helper()
	msg := fmt.Sprintf("idptest: %s not installed; scripts/test.sh installs it: apt-get install -y %s", what, packages)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("idptest: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// phpString quotes s as a PHP single-quoted literal, in which only the
// backslash and the quote itself are special.
func phpString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func phpList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = phpString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
