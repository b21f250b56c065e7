// Package pgtest gives tests a real PostgreSQL database; there are no mocks.
//
// A test package opts in from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Main uses the server named by AUTH_SESSION_TEST_URL when that is set (a
// superuser URL able to create databases and roles), and otherwise starts one
// throwaway cluster with package pgcluster for the whole test binary. Each test
// then calls NewDB for a fresh database of its own, so tests can run with
// t.Parallel(). Roles are global to a cluster, so tests name them with
// UniqueName.
//
// Tests that each need the same starting point, such as a database with the
// schema applied, share a Template: its set-up runs once per test binary and
// Template.NewDB gives each test a copy, which costs a file copy instead of
// the set-up's work.
package pgtest
