package sql

import (
	"context"
	"sync"
	"testing"
)

// insertDefaultIDs mints n sessions in one statement with the table's own
// id default, as a bulk load or a burst of logins does.
const insertDefaultIDs = `INSERT INTO system.web_sessions (hashed_secret, username, user_id, expires_at)
SELECT '\x00', 'bulk', 10, now() + INTERVAL '1 hour' FROM generate_series(1, $1::INT)`

func TestDefaultIDsNeverCollide(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	ctx := testContext(t)

	// 22 random bits per millisecond collided within 40,000 rows.
	if _, err := conn.Exec(ctx, insertDefaultIDs, 200_000); err != nil {
		t.Fatalf("insert 200,000 sessions with the default id: %v", err)
	}

	// Eight writers at once, each minting sessions one statement at a time
	// and in bulk, as several serve processes and a loader would.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			w := mustConnect(t, dbURL)
			for range 200 {
				if _, err := w.Exec(ctx, insertDefaultIDs, 1); err != nil {
					errs <- err
					return
				}
			}
			if _, err := w.Exec(ctx, insertDefaultIDs, 10_000); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("parallel writer: %v", err)
	}

	var n int
	var positive bool
	if err := conn.QueryRow(ctx, `SELECT count(*), bool_and(id > 0) FROM system.web_sessions`).Scan(&n, &positive); err != nil {
		t.Fatal(err)
	}
	if want := 200_000 + 8*(200+10_000); n != want || !positive {
		t.Errorf("%d sessions (all ids positive: %v), want %d", n, positive, want)
	}
}

func TestDefaultIDsFollowTime(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ctx := testContext(t)
	var first, second int64
	mustScan := func(dst *int64) {
		t.Helper()
		err := conn.QueryRow(context.WithoutCancel(ctx), insertDefaultIDs+` RETURNING id`, 1).Scan(dst)
		if err != nil {
			t.Fatal(err)
		}
	}
	mustScan(&first)
	if _, err := conn.Exec(ctx, `SELECT pg_sleep(0.01)`); err != nil {
		t.Fatal(err)
	}
	mustScan(&second)
	// The milliseconds since 2020 are the high bits: 10 ms later is at
	// least 10 << 22 higher.
	if second-first < 10<<22 {
		t.Errorf("ids %d then %d, 10 ms apart: want the second at least %d higher", first, second, int64(10<<22))
	}
}
