-- purge walks each index in (timestamp, id) order and deletes one range of
-- rows per batch, so that a batch is bounded by a row count even when
-- thousands of rows share one timestamp: logout revokes all of a user's
-- sessions with one now(), and the events of one transaction share one at.
-- With the timestamp alone, such a tie could not be split between batches.
-- Each new index serves every query the one it replaces served (the
-- timestamp stays the leading column); CockroachDB's secondary indexes end
-- with the primary key anyway, so there this only renames them.
--
-- CREATE INDEX takes a lock that holds back writes to the table while it
-- builds: seconds for a million rows. Run init when a pause in logins is
-- acceptable.
CREATE INDEX IF NOT EXISTS web_sessions_expires_at_id_idx ON system.web_sessions (expires_at, id);
DROP INDEX IF EXISTS system.web_sessions_expires_at_idx;

CREATE INDEX IF NOT EXISTS web_sessions_revoked_at_id_idx ON system.web_sessions (revoked_at, id)
    WHERE revoked_at IS NOT NULL;
DROP INDEX IF EXISTS system.web_sessions_revoked_at_idx;

CREATE INDEX IF NOT EXISTS session_events_at_id_idx ON system.session_events (at, id);
DROP INDEX IF EXISTS system.session_events_at_idx;
