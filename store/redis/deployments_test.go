package redis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store/storetest"
)

// The suite through Sentinel exercises the failover client: discovery of
// the primary, database selection and Pub/Sub on the primary.
func TestConformanceSentinel(t *testing.T) {
	primary := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, primary, "mymaster")
	pool := newStorePool(databases(func(db int) string {
		return fmt.Sprintf("redis+sentinel://%s/mymaster/%d", sentinel.Addr(), db)
	})...)
	storetest.RunTests(t, pool.store)
}

func TestSentinelSelectsDatabase(t *testing.T) {
	primary := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, primary, "mymaster")
	s := openStore(t, fmt.Sprintf("redis+sentinel://%s/mymaster/5", sentinel.Addr()))
	seed(t, s, "acme")

	direct := goredis.NewClient(&goredis.Options{Addr: primary.Addr(), DB: 5})
	defer direct.Close()
	n, err := direct.Exists(t.Context(), "pg:{acme}:partner").Result()
	must(t, err)
	if n != 1 {
		t.Error("the partner is not in database 5 of the primary")
	}
}

// startCluster runs n cluster-mode nodes, each a primary owning an equal
// share of the slots. waitCluster then waits until it is up.
func startCluster(t *testing.T, n int) []*redistest.Server {
	t.Helper()
	nodes := make([]*redistest.Server, n)
	for i := range nodes {
		nodes[i] = redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	}
	const slots = 16384
	for i, node := range nodes {
		c := goredis.NewClient(&goredis.Options{Addr: node.Addr()})
		err := c.ClusterAddSlotsRange(t.Context(), i*slots/n, (i+1)*slots/n-1).Err()
		if err == nil && i > 0 {
			host, port, _ := strings.Cut(nodes[0].Addr(), ":")
			err = c.ClusterMeet(t.Context(), host, port).Err()
		}
		c.Close()
		must(t, err)
	}
	return nodes
}

// waitCluster waits until every node sees all the others and the cluster
// up. A fresh node holds off for about two seconds, so the caller of
// several clusters had better start them all before waiting.
func waitCluster(t *testing.T, nodes []*redistest.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, node := range nodes {
		c := goredis.NewClient(&goredis.Options{Addr: node.Addr()})
		defer c.Close()
		for {
			info, err := c.ClusterInfo(t.Context()).Result()
			must(t, err)
			if strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(nodes))) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster not up:\n%s", info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func clusterURL(nodes []*redistest.Server) string {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	return "redis+cluster://" + strings.Join(addrs, ",")
}

// A cluster rejects with CROSSSLOT any command or transaction spanning
// slots, even on one node, so the suite on a one-node cluster proves every
// multi-key step stays within its partner's slot. Clusters have no
// databases: subtests take turns on a few one-node clusters.
func TestConformanceCluster(t *testing.T) {
	const clusters = 14 // the most subtests of one group
	var nodes []*redistest.Server
	urls := make([]string, clusters)
	for i := range urls {
		node := startCluster(t, 1)
		nodes = append(nodes, node...)
		urls[i] = clusterURL(node)
	}
	for _, node := range nodes {
		waitCluster(t, []*redistest.Server{node})
	}
	storetest.RunTests(t, newStorePool(urls...).store)
}

// On several primaries, partners spread over nodes: listing must gather
// them all and deleting one must sweep the node that holds it.
func TestClusterSpreadsPartners(t *testing.T) {
	nodes := startCluster(t, 3)
	waitCluster(t, nodes)
	s := openStore(t, clusterURL(nodes))
	var ids []string
	for i := range 12 {
		id := fmt.Sprintf("p%02d", i)
		ids = append(ids, id)
		seed(t, s, id, id+".example")
	}

	holders := 0
	for _, n := range nodes {
		c := goredis.NewClient(&goredis.Options{Addr: n.Addr()})
		keys, err := c.Keys(t.Context(), "pg:{*").Result()
		c.Close()
		must(t, err)
		if len(keys) > 0 {
			holders++
		}
	}
	if holders < 2 {
		t.Fatalf("partners landed on %d of %d nodes; the test needs them spread", holders, len(nodes))
	}

	partners, err := s.ListPartners(t.Context())
	must(t, err)
	if len(partners) != len(ids) {
		t.Errorf("listed %d partners, want %d", len(partners), len(ids))
	}

	before := allKeys(t, s)
	deleted := ids[:6]
	for _, id := range deleted {
		must(t, s.DeletePartner(t.Context(), id))
	}
	var want []string
	for _, k := range before {
		if !slices.ContainsFunc(deleted, func(id string) bool { return strings.HasPrefix(k, "pg:{"+id+"}:") }) {
			want = append(want, k)
		}
	}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys after deletes:\n got  %q\n want %q", got, want)
	}
}
