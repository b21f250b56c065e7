package sql

// A table walk's batches in a pipeline. pgx's Batch ends its statements
// with one Sync, so PostgreSQL runs them as one implicit transaction: a
// pipeline of batches that each commit on their own needs pgconn's
// Pipeline, with a Sync after each batch.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// pipelineDepth is how many batches of a table walk are in flight at once:
// two, so that the database finds the next batch waiting when it ends one,
// rather than waiting for the client to read the result and send the next,
// which on a busy machine costs milliseconds a batch (the client has to be
// scheduled). Each is its own transaction; an interrupted walk lets the
// one sent ahead finish too.
const pipelineDepth = 2

// pageRange is one batch of a table walk: pages [from, to).
type pageRange struct {
	from, to uint32
}

// purgePipelined runs table walk w as purgeBatches does with no pace, its
// batches sent pipelineDepth ahead of the one whose result it reads. The
// batches of a table walk do not depend on each other: each is its range
// of pages, known before it runs. A batch that fails with a serialization
// failure or a deadlock runs again once the pipeline is done, on its own
// and retried as any batch is; another error ends the walk once the
// batches in flight are read. db must give a connection of its own (see
// ownConn); otherwise the batches run one at a time.
func purgePipelined(ctx context.Context, db PurgeDB, w *heapWalk, res *PurgeResult, progress func(PurgeProgress)) error {
	conn, _, release, err := ownConn(ctx, db)
	if err != nil {
		return err
	}
	if conn == nil {
		return purgeBatches(ctx, db, w, PurgeOptions{}, res, progress)
	}
	retries, err := pipelineBatches(ctx, conn.PgConn(), inSchema(db, w.query), w, res, progress)
	release()
	if err != nil {
		return err
	}
	for _, r := range retries {
		if ctx.Err() != nil {
			break
		}
		bctx, cancel := batchContext(ctx)
		deleted, err := w.deletePages(bctx, db, r.from, r.to)
		cancel()
		if err != nil {
			return err
		}
		countBatch(deleted, res, progress)
	}
	return ctx.Err()
}

// pipelineBatches sends w's batches on conn, pipelineDepth at a time, each
// with JIT off and ended by a Sync, and counts each as its result comes. It
// returns the batches that failed with a serialization failure or a
// deadlock, to run again.
func pipelineBatches(ctx context.Context, conn *pgconn.PgConn, query string, w *heapWalk, res *PurgeResult, progress func(PurgeProgress)) ([]pageRange, error) {
	bctx, cancel := batchContext(ctx)
	defer cancel()
	p := conn.StartPipeline(bctx)
	var (
		inFlight, retries []pageRange
		walkErr           error
	)
	for {
		sent := false
		for walkErr == nil && ctx.Err() == nil && len(inFlight) < pipelineDepth && w.from < w.end {
			r := pageRange{from: w.from, to: w.from + min(w.pages, w.end-w.from)}
			w.from = r.to
			p.SendQueryParams(jitOff, nil, nil, nil, nil)
			p.SendQueryParams(query, w.textParams(r), nil, nil, nil)
			p.SendPipelineSync()
			inFlight = append(inFlight, r)
			sent = true
		}
		if len(inFlight) == 0 {
			break
		}
		if sent {
			if err := p.Flush(); err != nil {
				return nil, errors.Join(walkErr, err)
			}
		}
		r := inFlight[0]
		inFlight = inFlight[1:]
		counts, err := readPipelinedBatch(p, len(w.phases))
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			countBatch(w.deleted(counts), res, progress)
		case !errors.As(err, &pgErr):
			// The connection is gone: nothing more will come.
			return nil, errors.Join(walkErr, err)
		case IsRetryable(err):
			retries = append(retries, r)
		case walkErr == nil:
			walkErr = err
		}
	}
	if err := p.Close(); err != nil && walkErr == nil {
		walkErr = err
	}
	return retries, walkErr
}

// textParams are the parameters of w's batch statement for pages r, in
// PostgreSQL's text format, their types left to the server to infer.
func (w *heapWalk) textParams(r pageRange) [][]byte {
	params := [][]byte{
		[]byte(w.cutoff.UTC().Format("2006-01-02 15:04:05.999999Z07:00")),
		[]byte(fmt.Sprintf("(%d,0)", r.from)),
		[]byte(fmt.Sprintf("(%d,0)", r.to)),
	}
	for _, a := range []string{w.audit.actor, w.audit.via, w.audit.clientAddr, w.audit.run, eventTime(w.cutoff)} {
		params = append(params, []byte(a))
	}
	return params
}

// readPipelinedBatch reads the results of one pipelined batch, jitOff's and
// the batch statement's, up to its Sync, and returns the statement's
// counts of rows deleted, one per phase, or the first error the batch met.
func readPipelinedBatch(p *pgconn.Pipeline, phases int) ([]int64, error) {
	var (
		counts   []int64
		firstErr error
		readers  int
	)
	for {
		results, err := p.GetResults()
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr):
			firstErr = firstError(firstErr, err)
			continue
		case err != nil:
			return nil, err
		}
		switch r := results.(type) {
		case *pgconn.PipelineSync:
			if firstErr == nil && counts == nil {
				firstErr = errors.New("purge batch: no row in its result")
			}
			return counts, firstErr
		case *pgconn.ResultReader:
			readers++
			if readers == 2 && r.NextRow() {
				counts, err = parseCounts(r.Values(), phases)
				firstErr = firstError(firstErr, err)
			}
			if _, err := r.Close(); err != nil {
				firstErr = firstError(firstErr, err)
			}
		default:
			return nil, fmt.Errorf("purge batch: unexpected pipeline result %T", results)
		}
	}
}

// parseCounts reads the first phases columns of a batch statement's row,
// in text format.
func parseCounts(values [][]byte, phases int) ([]int64, error) {
	if len(values) < phases {
		return nil, fmt.Errorf("purge batch: %d columns, want %d counts", len(values), phases)
	}
	counts := make([]int64, phases)
	for i := range counts {
		n, err := strconv.ParseInt(string(values[i]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("purge batch: count %q: %w", values[i], err)
		}
		counts[i] = n
	}
	return counts, nil
}

// firstError returns the first of the errors that is not nil.
func firstError(first, next error) error {
	if first != nil {
		return first
	}
	return next
}
