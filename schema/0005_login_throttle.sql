-- The login throttle's own records, apart from the audit trail, so that a
-- purge of old events (whatever --events-retention) cannot reset it.
--
-- One row per client address that tried a password. Its row lock (taken by
-- an upsert) serializes the reservations of that address across every
-- serve process: a burst of guesses is counted one at a time. counts_until
-- is when the row, and every attempt of the address, has left the window,
-- so anyone may delete it then without knowing the window.
-- throttled_event_id is the address's login.throttled event of the current
-- window, which counts its throttled attempts instead of a row each.
CREATE TABLE IF NOT EXISTS system.login_throttle (
    client_addr        TEXT        NOT NULL,
    counts_until       TIMESTAMPTZ NOT NULL,
    throttled_event_id BIGINT,
    CONSTRAINT login_throttle_pkey PRIMARY KEY (client_addr)
);
CREATE INDEX IF NOT EXISTS login_throttle_counts_until_idx ON system.login_throttle (counts_until);

-- One row per password check of the window: reserved before the password
-- is checked, deleted when the check made a session, kept as a failure
-- otherwise (also when the process died before it knew).
CREATE TABLE IF NOT EXISTS system.login_attempts (
    id           BIGINT      NOT NULL DEFAULT
        (((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT - 1577836800000) << 22)
        | (nextval('system.row_id_seq') & 4194303),
    client_addr  TEXT        NOT NULL,
    username     TEXT        NOT NULL,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    counts_until TIMESTAMPTZ NOT NULL,
    CONSTRAINT login_attempts_pkey PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS login_attempts_client_addr_idx ON system.login_attempts (client_addr, at);
CREATE INDEX IF NOT EXISTS login_attempts_counts_until_idx ON system.login_attempts (counts_until);

REVOKE ALL ON system.login_throttle FROM PUBLIC;
REVOKE ALL ON system.login_attempts FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON system.login_throttle TO admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON system.login_attempts TO admin;
-- A login.throttled event counts the attempts of its address and window.
GRANT UPDATE ON system.session_events TO admin;

-- The throttle no longer counts login.failed events.
DROP INDEX IF EXISTS system.session_events_login_failed_idx;
