-- The audit trail you can follow and query (events --follow, --session, --ip
-- and GET /api/v1/admin/events).
--
-- xact_id: the transaction that wrote the event. events --follow reads the
-- events committed since its last read as those whose transaction its last
-- snapshot did not see (pg_visible_in_snapshot), so an event is shown once,
-- after its transaction committed, however long that transaction ran: ids
-- and times are assigned before the commit, in another order than commits
-- happen, so "id > the last id shown" would skip an event whose transaction
-- committed after a later one's. pg_current_xact_id() is the top-level
-- transaction's id (a savepoint's row gets it too) with its epoch, so it
-- never wraps. PostgreSQL 13 and later; rows written before this version
-- have none, and were committed before any follower began. CockroachDB has
-- no transaction ids: it would follow the table with a changefeed (see
-- pkg/sql's dialect.go).
ALTER TABLE system.session_events ADD COLUMN IF NOT EXISTS xact_id xid8;
ALTER TABLE system.session_events ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS session_events_xact_id_idx ON system.session_events (xact_id);

-- --ip: the client's address as INET, as 0004 made it for the sessions: a
-- network is a range of one btree index. pkg/sql writes it from a parsed
-- address, so no client input can make an insert fail; it is NULL where
-- client_addr is no address (the host name of a CLI command). Rows made
-- before this column are filled from the address they recorded.
ALTER TABLE system.session_events ADD COLUMN IF NOT EXISTS client_ip INET;
UPDATE system.session_events SET client_ip = client_addr::INET
WHERE client_addr ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'
   OR (client_addr ~ '^[0-9a-f:]{2,39}$' AND client_addr LIKE '%:%:%' AND client_addr NOT LIKE '%:::%');
CREATE INDEX IF NOT EXISTS session_events_client_ip_idx ON system.session_events (client_ip, id)
    WHERE client_ip IS NOT NULL;

-- --session: one session's history, without reading the whole trail.
CREATE INDEX IF NOT EXISTS session_events_session_id_idx ON system.session_events (session_id, id)
    WHERE session_id IS NOT NULL;

-- Who follows the trail: events --follow keeps a row here, renewed while it
-- runs, and the statements that write events notify the followers only
-- while a row is current. A NOTIFY is not free for the writers: PostgreSQL
-- holds one lock across the whole commit of a transaction that notifies,
-- so such commits, WAL flush included, happen one at a time (pgbench, 8
-- clients each committing one event, fsync on: 260-675 commits/s with the
-- notify, 2,800-4,700 without). With no follower, a writer pays the lookup
-- of this small table alone. A follower that died leaves a row that expires; the next one
-- deletes it.
CREATE TABLE IF NOT EXISTS system.event_followers (
    id    BIGINT      NOT NULL,
    until TIMESTAMPTZ NOT NULL,
    CONSTRAINT event_followers_pkey PRIMARY KEY (id)
);
REVOKE ALL ON system.event_followers FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON system.event_followers TO admin;
