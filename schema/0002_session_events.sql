-- The audit trail: one row per change to a session, written in the same
-- transaction as the change. It never holds secrets.
CREATE TABLE IF NOT EXISTS system.session_events (
    id          BIGINT      NOT NULL DEFAULT
        (((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT - 1577836800000) << 22)
        | (random() * 4194303)::BIGINT,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    event       TEXT        NOT NULL,
    actor       TEXT        NOT NULL,
    username    TEXT        NOT NULL,
    session_id  BIGINT,
    via         TEXT        NOT NULL,
    client_addr TEXT        NOT NULL DEFAULT '',
    user_agent  TEXT        NOT NULL DEFAULT '',
    detail      JSONB       NOT NULL DEFAULT '{}',
    CONSTRAINT session_events_pkey PRIMARY KEY (id)
);

-- events and purge read by time; the id splits ties within a transaction.
CREATE INDEX IF NOT EXISTS session_events_at_id_idx ON system.session_events (at, id);
CREATE INDEX IF NOT EXISTS session_events_username_idx ON system.session_events (username, at);

REVOKE ALL ON system.session_events FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON system.session_events TO admin;
