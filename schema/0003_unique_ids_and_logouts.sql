-- Ids that never collide. The random low 22 bits of 0001's default gave two
-- rows made in the same millisecond a 1 in 4 million chance to share an id:
-- a 40,000-row INSERT ... SELECT hit it. The low bits now come from a
-- sequence, so two ids can only collide if 4 million are made within one
-- millisecond. The high bits stay the milliseconds since 2020, so ids are
-- still 64-bit and roughly time-ordered. Sequences, bitwise AND and SET
-- DEFAULT are accepted by CockroachDB too (which could use unique_rowid()).
CREATE SEQUENCE IF NOT EXISTS system.row_id_seq;
ALTER TABLE system.web_sessions ALTER COLUMN id SET DEFAULT
    (((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT - 1577836800000) << 22)
    | (nextval('system.row_id_seq') & 4194303);
ALTER TABLE system.session_events ALTER COLUMN id SET DEFAULT
    (((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT - 1577836800000) << 22)
    | (nextval('system.row_id_seq') & 4194303);
REVOKE ALL ON SEQUENCE system.row_id_seq FROM PUBLIC;
GRANT USAGE ON SEQUENCE system.row_id_seq TO admin;

-- When each user was last logged out of everywhere. A login whose
-- transaction began at or before logged_out_at is refused even if it
-- committed after the logout's UPDATE, which could not see its row: this is
-- what makes logout race-free. kept_session_id is the one session a
-- "log out my other sessions" kept (0 for none).
CREATE TABLE IF NOT EXISTS system.web_session_logouts (
    username        TEXT        NOT NULL,
    logged_out_at   TIMESTAMPTZ NOT NULL,
    kept_session_id BIGINT      NOT NULL DEFAULT 0,
    CONSTRAINT web_session_logouts_pkey PRIMARY KEY (username)
);
REVOKE ALL ON system.web_session_logouts FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON system.web_session_logouts TO admin;

-- The login throttle counts recent failures from one client address.
CREATE INDEX IF NOT EXISTS session_events_login_failed_idx
    ON system.session_events (client_addr, at) WHERE event = 'login.failed';
