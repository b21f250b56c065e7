package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster/ha"
	"github.com/auth-session/auth-session/internal/pgtest"
)

// patroniCluster is a two-node Patroni cluster over a one-member etcd, all
// real programs on loopback, with a database set up for auth-session.
type patroniCluster struct {
	nodes          []*ha.PatroniNode
	leader         *ha.PatroniNode
	super, admin   string // URLs listing both nodes, read-write
	user, password string
}

func startPatroni(t *testing.T, synchronous bool) *patroniCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	etcd, err := ha.StartEtcd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Stop)
	opts := ha.PatroniOptions{Scope: pgtest.UniqueName("auth"), Etcd: etcd,
		SuperUser: "postgres", SuperPassword: "super-" + pgtest.UniqueName("pw"), Sync: synchronous}
	pc := &patroniCluster{user: "web_user", password: "pw-" + pgtest.UniqueName("x")}
	for _, name := range []string{"node1", "node2"} {
		n, err := ha.StartPatroni(ctx, opts, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		pc.nodes = append(pc.nodes, n)
		if name == "node1" {
			// The first node bootstraps; the second copies it.
			if pc.leader, err = ha.WaitForCluster(ctx, pc.nodes, 2*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pc.leader, err = ha.WaitForCluster(ctx, pc.nodes, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	addrs := []string{pc.nodes[0].Addr(), pc.nodes[1].Addr()}
	pc.super = ha.HostsURL(addrs, opts.SuperUser, opts.SuperPassword, "postgres", "read-write")
	if r := run(t, "init", "--url", pc.super); r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	// A password of its own, as startReplicated's.
	adminPassword := "adminpw-" + pgtest.UniqueName("x")
	pgtest.MustExec(t, pc.super, fmt.Sprintf(
		"CREATE ROLE web_admin LOGIN PASSWORD '%s' IN ROLE admin; CREATE ROLE web_user LOGIN PASSWORD '%s'; CREATE ROLE gone_user LOGIN",
		adminPassword, pc.password))
	pc.admin = ha.HostsURL(addrs, "web_admin", adminPassword, "postgres", "read-write")
	pc.waitForReplica(t, synchronous)
	return pc
}

// waitForReplica waits until the replica has what the leader wrote, and
// is its synchronous standby when synchronous: what the test does next
// relies on it, not on how fast the replica started.
func (pc *patroniCluster) waitForReplica(t *testing.T, synchronous bool) {
	t.Helper()
	for _, n := range pc.nodes {
		if n == pc.leader {
			continue
		}
		if err := ha.WaitForReplica(context.Background(), pc.super, n, synchronous, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPatroniFailover kills the leader of a real Patroni cluster under
// load; Patroni promotes the replica by itself, and serve and the commands
// follow through the URL listing both nodes.
func TestPatroniFailover(t *testing.T) {
	t.Parallel()
	pc := startPatroni(t, true)
	live, revoked := seedFailover(t, pc.admin, pc.user)
	srv := startServe(t, "--url", pc.admin, "--insecure")
	f := startFailoverLoad(srv.url, live, revoked, pc.user, pc.password)

	time.Sleep(1500 * time.Millisecond)
	var replica *ha.PatroniNode
	for _, n := range pc.nodes {
		if n != pc.leader {
			replica = n
		}
	}
	pc.waitForReplica(t, true)
	crashed := time.Now()
	if err := pc.leader.Kill(); err != nil {
		t.Fatal(err)
	}
	var promoted time.Time
	for deadline := time.Now().Add(time.Minute); promoted.IsZero(); {
		if replica.Role(context.Background()) == "primary" {
			promoted = time.Now()
		} else if time.Now().After(deadline) {
			f.finish()
			t.Fatalf("Patroni did not promote %s within a minute of the leader's death", replica.Name)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second)
	f.finish()

	firstOK := f.check(t, srv, crashed, true)
	t.Logf("Patroni: unavailable for %v (leader killed to first 200); Patroni promoted %s %v after the kill, first 200 %v after that",
		firstOK.Sub(crashed).Round(time.Millisecond), replica.Name, promoted.Sub(crashed).Round(time.Millisecond),
		firstOK.Sub(promoted).Round(time.Millisecond))
	checkCommandsRecover(t, srv, pc.admin, pc.user)
}
