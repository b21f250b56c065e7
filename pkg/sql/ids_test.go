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

// lowBits is the part of a default id that tells apart the rows of one
// millisecond: 22 bits of the sequence row_id_seq.
const lowBits = 1<<22 - 1

// TestDefaultIDsNeverCollide mints sessions with the default id in one
// statement and from eight writers at once, and checks more than that they
// differ: no two of them share their low 22 bits, whatever their
// milliseconds. That is what keeps the ids of one millisecond apart, for up
// to 2^22 rows a millisecond; and it fails at once where 22 random bits a
// millisecond (which collided within 40,000 rows of a bulk insert) would
// have needed hundreds of thousands of rows to collide by chance.
func TestDefaultIDsNeverCollide(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	ctx := testContext(t)

	// The bulk insert crosses the point where the sequence's low 22 bits
	// wrap to 0.
	if _, err := conn.Exec(ctx, `ALTER SEQUENCE system.row_id_seq RESTART WITH 4184304`); err != nil {
		t.Fatal(err)
	}
	const bulk = 20_000
	if _, err := conn.Exec(ctx, insertDefaultIDs, bulk); err != nil {
		t.Fatalf("insert %d sessions with the default id: %v", bulk, err)
	}

	// Eight writers at once, each minting sessions one statement at a time
	// and in bulk, as several serve processes and a loader would.
	const writers, single, writerBulk = 8, 50, 1_000
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			w := mustConnect(t, dbURL)
			for range single {
				if _, err := w.Exec(ctx, insertDefaultIDs, 1); err != nil {
					errs <- err
					return
				}
			}
			if _, err := w.Exec(ctx, insertDefaultIDs, writerBulk); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("parallel writer: %v", err)
	}

	var n, distinctIDs, distinctLow, wrapped, mostInOneMS int
	var positive bool
	err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id), count(DISTINCT id & $1), count(*) FILTER (WHERE id & $1 < 10000),
    (SELECT max(c) FROM (SELECT count(*) AS c FROM system.web_sessions GROUP BY id >> 22) ms), bool_and(id > 0)
  FROM system.web_sessions`, lowBits).Scan(&n, &distinctIDs, &distinctLow, &wrapped, &mostInOneMS, &positive)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sessions, %d distinct ids, %d distinct low 22 bits, %d after the wrap; at most %d in one millisecond",
		n, distinctIDs, distinctLow, wrapped, mostInOneMS)
	if want := bulk + writers*(single+writerBulk); n != want || distinctIDs != n || !positive {
		t.Errorf("%d sessions with %d distinct ids (all ids positive: %v), want %d, all distinct and positive", n, distinctIDs, positive, want)
	}
	if distinctLow != n {
		t.Errorf("%d sessions share %d values of their low 22 bits; want each its own", n, distinctLow)
	}
	if wrapped == 0 {
		t.Errorf("no id past the wrap of the low 22 bits: the test did not cross it")
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
