package audit_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
)

func ExampleLog() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := bolt.Open(filepath.Join(dir, "partnergate.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.CreatePartner(ctx, store.Partner{ID: "acme", Name: "Acme"}); err != nil {
		log.Fatal(err)
	}

	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	trail, err := audit.New(audit.Config{Store: s, Now: func() time.Time { return at }})
	if err != nil {
		log.Fatal(err)
	}
	_, err = trail.Record(ctx, audit.Event{
		PartnerID: "acme",
		Actor:     audit.Actor{Type: audit.ActorAdminToken, ID: "tok_7", Name: "HR sync"},
		Action:    "user.update",
		Target:    audit.Target{Type: "user", ID: "u_42"},
		Outcome:   audit.Success,
		SourceIP:  "192.0.2.10",
		RequestID: "req-1",
		Changes: []audit.Change{
			{Field: "name", From: "Ann", To: "Ann Lee"},
			{Field: "password", From: "old", To: "new"}, // never stored
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	if _, err := trail.Export(ctx, "acme", audit.Filter{Action: "user.*"}, os.Stdout); err != nil {
		log.Fatal(err)
	}
	v, err := trail.Verify(ctx, "acme")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("chain ok: %v, %d event(s) checked\n", v.OK, v.Checked)
	// Output:
	// {"seq":1,"time":"2026-03-01T09:30:00Z","partner_id":"acme","actor":{"type":"admin_token","id":"tok_7","name":"HR sync"},"action":"user.update","target":{"type":"user","id":"u_42"},"outcome":"success","source_ip":"192.0.2.10","request_id":"req-1","changes":[{"field":"name","from":"Ann","to":"Ann Lee"},{"field":"password","redacted":true}],"hash":"06e32b9fc33e961f2a0359e1e8980025a5b6d93940d37d438a6cc3bb517fb147"}
	// chain ok: true, 1 event(s) checked
}
