-- Last seen, not only first seen: the address and User-Agent of a
-- session's last use, written by the touch that writes last_used_at (so a
-- request costs no other write), beside those of its login, which
-- audit_info keeps. NULL until the session's first use over HTTP: a
-- session made by the CLI has none before. Not indexed: nothing selects by
-- them, and an index would cost every touch.
ALTER TABLE system.web_sessions
    ADD COLUMN IF NOT EXISTS last_ip         INET,
    ADD COLUMN IF NOT EXISTS last_user_agent TEXT;

-- The touch, as one statement whose client text travels as parameters,
-- and which never waits for a lock. It writes the sessions whose touch is
-- due: last used longer ago than the touch interval, or never over HTTP
-- (last_user_agent is NULL only then: a touch or an HTTP login writes
-- text, empty when the request sent no User-Agent), so that a session
-- made by the CLI records its first use at once. The condition is the
-- session check's, repeated, so that requests that all saw the touch due
-- write a row once between them. A row another transaction holds,
-- such as a logout in progress, is skipped; and its lock_timeout holds
-- while its UPDATE takes the table's lock, so that a table locked against
-- writes (a CREATE INDEX, LOCK TABLE) makes it give up at once with
-- lock_not_available. A SET LOCAL sent before an UPDATE could not promise
-- that: a driver prepares or describes a statement before it runs it,
-- outside the transaction the SET holds in, and PostgreSQL takes the
-- table's lock there, when it parses the UPDATE. Here the caller's
-- statement names no table; the body is parsed when the function runs,
-- under its SET, which ends with the call (safe behind a pooler in
-- transaction mode). PostgreSQL only: see pkg/sql's dialect.go.
CREATE OR REPLACE FUNCTION system.touch_sessions(ids BIGINT[], ips INET[], agents TEXT[], touch_interval_us BIGINT)
RETURNS VOID LANGUAGE sql VOLATILE
SET lock_timeout = '50ms'
AS $$
UPDATE system.web_sessions s SET last_used_at = now(), last_ip = t.ip, last_user_agent = t.agent
FROM unnest(ids, ips, agents) AS t(id, ip, agent)
WHERE s.id = t.id AND s.id IN (
    SELECT id FROM system.web_sessions
    WHERE id = ANY(ids) AND (last_used_at < now() - touch_interval_us * INTERVAL '1 microsecond' OR last_user_agent IS NULL)
    FOR UPDATE SKIP LOCKED)
$$;
REVOKE ALL ON FUNCTION system.touch_sessions(BIGINT[], INET[], TEXT[], BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION system.touch_sessions(BIGINT[], INET[], TEXT[], BIGINT) TO admin;
