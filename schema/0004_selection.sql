-- What the selection flags of list, logout and revoke narrow by, each served
-- by an index.
--
-- --ip: the address of an HTTP login as a column of its own, so that an
-- address or a network is a range scan of one btree index (the network's
-- first to last address). It is NULL for CLI logins, which have no client
-- address. pkg/sql writes it from a parsed address, so no client input can
-- make an insert fail; rows made before this column are filled from the
-- address they recorded, where it is an address.
ALTER TABLE system.web_sessions ADD COLUMN IF NOT EXISTS client_ip INET;
UPDATE system.web_sessions SET client_ip = (audit_info->>'client_addr')::INET
WHERE audit_info->>'client_addr' ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'
   OR (audit_info->>'client_addr' ~ '^[0-9a-f:]{2,39}$' AND audit_info->>'client_addr' LIKE '%:%:%'
       AND audit_info->>'client_addr' NOT LIKE '%:::%');
CREATE INDEX IF NOT EXISTS web_sessions_client_ip_idx ON system.web_sessions (client_ip, id)
    WHERE client_ip IS NOT NULL;

-- --user-agent is a case-insensitive substring: a trigram index serves
-- ILIKE '%text%'. pg_trgm ships with PostgreSQL (and is trusted, so the
-- database's owner may create it); CockroachDB has trigram indexes built in.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS web_sessions_user_agent_trgm_idx ON system.web_sessions
    USING GIN ((audit_info->>'user_agent') gin_trgm_ops);

-- --idle-for and list --order last-used.
CREATE INDEX IF NOT EXISTS web_sessions_last_used_at_idx ON system.web_sessions (last_used_at, id);

-- The sessions a logout recorded as an instant (see web_session_logouts) but
-- whose rows it could not see, found without a scan of every live session:
-- list --summary counts by the plain columns and corrects for these few.
-- Once a logout's UPDATE ran, the only rows left unrevoked before its
-- instant are logins that were in flight, so each range is nearly empty:
-- by created_at for a logout of everyone, by user for a user's.
CREATE INDEX IF NOT EXISTS web_sessions_live_created_at_idx ON system.web_sessions (created_at)
    WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS web_sessions_live_username_idx ON system.web_sessions (username, created_at)
    WHERE revoked_at IS NULL;
