package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// slowDB delays every query, so that requests pile up behind a running
// lookup, and records how many ids each lookup statement carried.
type slowDB struct {
	sql.DBTX
	delay time.Duration
	fail  error

	mu      sync.Mutex
	batches []int
}

func (s *slowDB) Query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	if ids, ok := args[0].([]int64); ok {
		s.mu.Lock()
		s.batches = append(s.batches, len(ids))
		s.mu.Unlock()
	}
	time.Sleep(s.delay)
	if s.fail != nil {
		return nil, s.fail
	}
	return s.DBTX.Query(ctx, query, args...)
}

func (s *slowDB) largestBatch() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	largest := 0
	for _, n := range s.batches {
		largest = max(largest, n)
	}
	return largest
}

// TestConcurrentRequestsShareLookupsWithoutMixingThemUp sends many requests
// at once, each with a session of its own user, some with a wrong secret or
// an unknown id, through a verifier that may run one statement at a time:
// requests must be looked up together, and each must get its own answer.
func TestConcurrentRequestsShareLookupsWithoutMixingThemUp(t *testing.T) {
	s := newStore(t)
	db := &slowDB{DBTX: s.pool, delay: 20 * time.Millisecond}
	v := &auth.Verifier{DB: db, MaxConcurrentLookups: 1}

	type request struct {
		value    string
		wantUser string // "" when it must be refused
	}
	var requests []request
	for i := range 12 {
		user := s.newRole(t)
		_, value := s.newSession(t, user)
		switch i % 3 {
		case 0:
			requests = append(requests, request{value, user})
		case 1:
			requests = append(requests, request{otherSecret(t, value), ""})
		case 2:
			requests = append(requests, request{value, user}, request{otherSecret(t, value), ""})
		}
	}
	secret, _ := auth.NewSecret()
	requests = append(requests, request{auth.EncodeValue(1<<61+7, secret), ""})

	var wg sync.WaitGroup
	for _, req := range requests {
		wg.Go(func() {
			rec := serve(v, newRequest(withCookie(req.value)))
			if req.wantUser == "" {
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("want 401, got %d %s", rec.Code, rec.Body)
				}
				return
			}
			var got auth.Identity
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Username != req.wantUser {
				t.Errorf("want 200 as %s, got %d %s", req.wantUser, rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	if largest := db.largestBatch(); largest < 2 {
		t.Errorf("no statement looked up more than %d session(s); want requests batched", largest)
	}
}

func TestStoreErrorReachesEveryBatchedRequest(t *testing.T) {
	s := newStore(t)
	db := &slowDB{DBTX: s.pool, delay: 20 * time.Millisecond, fail: errors.New("connection reset")}
	v := &auth.Verifier{DB: db, MaxConcurrentLookups: 1}
	_, value := s.newSession(t, s.newRole(t))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if rec := serve(v, newRequest(withCookie(value))); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("want 503 when the store fails, got %d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
}

func TestWaitingRequestLeavesWhenItsContextEnds(t *testing.T) {
	s := newStore(t)
	db := &slowDB{DBTX: s.pool, delay: 300 * time.Millisecond}
	v := &auth.Verifier{DB: db, MaxConcurrentLookups: 1}
	_, value := s.newSession(t, s.newRole(t))

	// The first request holds the only slot for a while.
	go serve(v, newRequest(withCookie(value)))
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Authenticate(newRequest(withCookie(value)).WithContext(ctx))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate with a canceled context while waiting: %v; want context.Canceled", err)
	}
}
