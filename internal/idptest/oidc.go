package idptest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// OIDCClient is a confidential web client (client_secret_basic at the
// token endpoint, authorization code flow, PKCE allowed).
type OIDCClient struct {
	ID, Secret   string
	RedirectURIs []string
	// ClaimsInIDToken puts the scopes' claims (email, profile) into the ID
	// token as well, as Google and Entra ID do. Without it they are only
	// at the userinfo endpoint, the example OP's (and Zitadel's) default
	// when an access token is issued too.
	ClaimsInIDToken bool
}

// OIDCProvider is a running zitadel/oidc example OpenID Provider.
type OIDCProvider struct {
	// Issuer is http://127.0.0.1:PORT; discovery is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Username and Password log in at the provider's login form (fields
	// username, password and a hidden id). The user's email claim is
	// Email.
	Username, Password string
	Email              string
}

// StartOIDCProvider runs the zitadel/oidc example OP in-process on a free
// 127.0.0.1 port with the given clients and shuts it down when the test
// ends. Its login page is at /login/username; the authorization endpoint
// is /auth (from discovery).
func StartOIDCProvider(t testing.TB, clients ...OIDCClient) *OIDCProvider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("idptest: listen: %v", err)
	}
	issuer := "http://" + l.Addr().String()

	// The example's storage.RegisterClients writes a package-level map that
	// every storage.NewStorage shares, unlocked: parallel tests would race
	// and see each other's clients. NewStorageWithClients gives this
	// provider a map of its own instead.
	registered := make(map[string]*storage.Client, len(clients))
	claimsInIDToken := map[string]bool{}
	for _, c := range clients {
		registered[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURIs...)
		claimsInIDToken[c.ID] = c.ClaimsInIDToken
	}
	users := storage.NewUserStore(issuer)
	st := &clientOverrides{Storage: storage.NewStorageWithClients(users, registered), claimsInIDToken: claimsInIDToken}
	// A nil logger: SetupServer would otherwise slog.SetDefault it, changing
	// logging for the whole test binary.
	router := exampleop.SetupServer(issuer, st, nil, false)

	srv := &http.Server{Handler: router, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("idptest: OIDC provider: %v", err)
		}
	})

	// NewUserStore names its first user after the issuer's host name
	// (without the port): test-user@127.0.0.1.
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatalf("idptest: %v", err)
	}
	user := users.GetUserByUsername("test-user@" + u.Hostname())
	if user == nil {
		t.Fatalf("idptest: the example user store has no test-user@%s", u.Hostname())
	}
	return &OIDCProvider{Issuer: issuer, Username: user.Username, Password: user.Password, Email: user.Email}
}

// clientOverrides changes what the example storage says about a client
// where storage.Client has no setter for it.
type clientOverrides struct {
	*storage.Storage
	claimsInIDToken map[string]bool
}

func (s *clientOverrides) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || !s.claimsInIDToken[id] {
		return c, err
	}
	return claimsInIDTokenClient{c}, nil
}

type claimsInIDTokenClient struct{ op.Client }

func (claimsInIDTokenClient) IDTokenUserinfoClaimsAssertion() bool { return true }
