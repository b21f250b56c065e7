-- Sessions of the HTTP interface, modelled on CockroachDB's system.web_sessions.
-- The id is made by the database itself, without a sequence round trip: the
-- milliseconds since 2020-01-01 in the high 41 bits (good until 2089) and 22
-- random bits below, so ids are roughly time-ordered and spread like
-- CockroachDB's unique_rowid(). The expression is valid on both engines.
CREATE TABLE IF NOT EXISTS system.web_sessions (
    id            BIGINT      NOT NULL DEFAULT
        (((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT - 1577836800000) << 22)
        | (random() * 4194303)::BIGINT,
    hashed_secret BYTEA       NOT NULL,
    username      TEXT        NOT NULL,
    user_id       BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    audit_info    JSONB       NOT NULL DEFAULT '{}',
    CONSTRAINT web_sessions_pkey PRIMARY KEY (id)
);

-- list orders by creation; logout and list --user look up one user's rows.
CREATE INDEX IF NOT EXISTS web_sessions_created_at_idx ON system.web_sessions (created_at, id);
CREATE INDEX IF NOT EXISTS web_sessions_username_idx ON system.web_sessions (username, created_at);
-- purge walks these two in (timestamp, id) order, one bounded range per
-- batch: the id splits ties, since logout revokes all of a user's sessions
-- with one now(). CockroachDB's secondary indexes end with the primary key
-- anyway.
CREATE INDEX IF NOT EXISTS web_sessions_expires_at_id_idx ON system.web_sessions (expires_at, id);
CREATE INDEX IF NOT EXISTS web_sessions_revoked_at_id_idx ON system.web_sessions (revoked_at, id)
    WHERE revoked_at IS NOT NULL;

-- Only superusers and members of admin may read or change sessions; the
-- database enforces it, not only the CLI.
REVOKE ALL ON system.web_sessions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON system.web_sessions TO admin;
