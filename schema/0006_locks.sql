-- Locked users: no new session is made for them, by the CLI or the API,
-- until they are unlocked or locked_until passes. Locking revokes their
-- sessions in the same transaction (and records their logout instant, so
-- logins in flight are refused too).
CREATE TABLE IF NOT EXISTS system.web_session_locks (
    username     TEXT        NOT NULL,
    locked_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until TIMESTAMPTZ,
    locked_by    TEXT        NOT NULL,
    reason       TEXT        NOT NULL DEFAULT '',
    CONSTRAINT web_session_locks_pkey PRIMARY KEY (username)
);
REVOKE ALL ON system.web_session_locks FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON system.web_session_locks TO admin;
