package pgtest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Template is a database set up once per test binary, which its NewDB
// copies for each test: a copy costs a file copy, where running the set-up
// (such as applying the schema) in every test's database costs that work
// again each time. Tests about the set-up itself use NewDB and run it.
type Template struct {
	prefix string
	setup  func(ctx context.Context, conn *pgx.Conn) error

	once sync.Once
	name string // the database, made by the first NewDB
	err  error
}

// NewTemplate returns a Template whose database setup prepares over conn, a
// superuser connection to it, named after prefix. Nothing is made until a
// test asks for a copy. Any other connection setup opens it must close,
// since PostgreSQL copies only a database no one is connected to.
func NewTemplate(prefix string, setup func(ctx context.Context, conn *pgx.Conn) error) *Template {
	return &Template{prefix: prefix, setup: setup}
}

var (
	templatesMu sync.Mutex
	templates   []string // databases of Templates, dropped when Run ends
)

// NewDB is pgtest.NewDB with a copy of the template's database: the same
// schema and rows, dropped when the test ends. Safe under t.Parallel().
func (tp *Template) NewDB(t testing.TB) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("pgtest: Template.NewDB needs a server: call pgtest.Main(m) from TestMain")
	}
	tp.once.Do(tp.make)
	if tp.err != nil {
		t.Fatalf("pgtest: make template database %s: %v", tp.name, tp.err)
	}
	return newDB(t, " TEMPLATE "+pgx.Identifier{tp.name}.Sanitize())
}

// NewPool is NewDB with a connection pool to the copy, closed when the test
// ends.
func (tp *Template) NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), tp.NewDB(t))
	if err != nil {
		t.Fatalf("pgtest: connect a pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// make creates the template's database and runs its setup. Afterwards no one
// may connect to it, so that every copy finds it free; autovacuum leaves it
// alone too.
func (tp *Template) make() {
	tp.name = UniqueName(tp.prefix)
	ident := pgx.Identifier{tp.name}.Sanitize()
	if tp.err = execSQL(adminURL, "CREATE DATABASE "+ident+createStrategy); tp.err != nil {
		return
	}
	templatesMu.Lock()
	templates = append(templates, tp.name)
	templatesMu.Unlock()
	if tp.err = tp.runSetup(); tp.err != nil {
		return
	}
	tp.err = execSQL(adminURL, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS false")
}

// runSetup runs setup on a connection of its own to the template database.
func (tp *Template) runSetup() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := connect(ctx, withDatabase(adminURL, tp.name))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := tp.setup(ctx, conn); err != nil {
		return fmt.Errorf("set up: %w", describe(err))
	}
	return nil
}

// dropTemplates drops the databases of the Templates used, which matters on
// a server that outlives the test binary (URLEnv).
func dropTemplates() error {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	for _, name := range templates {
		if err := execSQL(adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop template database %s: %w", name, err)
		}
	}
	templates = nil
	return nil
}
