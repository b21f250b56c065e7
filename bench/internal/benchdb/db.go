package benchdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Open gives a benchmark a migrated database of its own, named prefix and a
// random suffix, on the server of adminURL (a superuser's) or, when it is
// empty, on a throwaway PostgreSQL it starts. It returns how to connect, a
// connection, and a function that closes the connection, drops the
// database and removes the throwaway server.
func Open(ctx context.Context, adminURL, prefix string) (_ *pgx.ConnConfig, _ *pgx.Conn, closeAll func() error, err error) {
	var undo []func() error
	closeAll = func() error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, closeAll())
		}
	}()
	if adminURL == "" {
		fmt.Fprintln(os.Stderr, "starting a throwaway PostgreSQL (pass a superuser URL to use your own server)")
	}
	adminURL, remove, err := Server(ctx, adminURL)
	if err != nil {
		return nil, nil, nil, err
	}
	undo = append(undo, remove)
	cfg, drop, err := CreateDatabase(ctx, adminURL, prefix)
	if err != nil {
		return nil, nil, nil, err
	}
	undo = append(undo, drop)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("connect: %w", err)
	}
	undo = append(undo, func() error { return conn.Close(context.Background()) })
	if _, err := sql.Migrate(ctx, conn, sql.MigrateOptions{}); err != nil {
		return nil, nil, nil, err
	}
	return cfg, conn, closeAll, nil
}

// CreateSessions makes n sessions of an hour for role, as login does, each
// with its session.created event, and returns their ids and cookie values.
func CreateSessions(ctx context.Context, db sql.DB, role string, n int) ([]int64, []string, error) {
	store := sql.NewStore(db)
	ids, values := make([]int64, 0, n), make([]string, 0, n)
	for range n {
		secret, err := auth.NewSecret()
		if err != nil {
			return nil, nil, err
		}
		s, err := store.Login(ctx, sql.NewSession{Username: role, HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour},
			sql.Actor{Name: "bench", Via: "cli"}, sql.LoginOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("create sessions: %w", err)
		}
		ids, values = append(ids, s.ID), append(values, auth.EncodeValue(s.ID, secret))
	}
	return ids, values, nil
}

// CreateDatabase creates a database named prefix and a random suffix on
// the server of adminURL (a superuser's), and returns how to connect to it
// and a function that drops it.
func CreateDatabase(ctx context.Context, adminURL, prefix string) (*pgx.ConnConfig, func() error, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parse the server URL: %w", err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := prefix + "_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return nil, nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() error {
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	cfg = cfg.Copy()
	cfg.Database = name
	return cfg, drop, nil
}
