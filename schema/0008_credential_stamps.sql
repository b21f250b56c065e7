-- Sessions end with their credentials. A session records, when it is made,
-- a stamp of its role's row in pg_authid: the row's xmin, which every
-- ALTER ROLE (a password, LOGIN, VALID UNTIL, a rename, CONNECTION LIMIT,
-- any attribute) replaces and nothing else does (freezing keeps the value
-- since PostgreSQL 9.4), and a keyed digest of its password verifier, which
-- says whether the change was the password's. A session whose role's row
-- has changed since is refused for good: NOLOGIN then LOGIN restores the
-- same values, never the same xmin. PostgreSQL only (see pkg/sql's
-- dialect.go).
--
-- pg_authid is readable by superusers only, so this version must be
-- applied by one: the view below reads it with its owner's rights, as
-- pg_roles does, and an owner who cannot read it would fail every session
-- check.
DO $$
BEGIN
    IF NOT COALESCE((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false) THEN
        RAISE EXCEPTION 'schema version 8 must be applied by a superuser: it installs system.role_credentials, a view of pg_authid, which only superusers can read'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- The key of the password digests: random, readable by its owner (the
-- superuser who ran init) alone, so that a digest cannot be tested against
-- guessed passwords by anyone who reads the sessions.
CREATE TABLE IF NOT EXISTS system.credential_key (
    one BOOLEAN NOT NULL DEFAULT true CHECK (one),
    key BYTEA   NOT NULL,
    CONSTRAINT credential_key_pkey PRIMARY KEY (one)
);
REVOKE ALL ON system.credential_key FROM PUBLIC;
INSERT INTO system.credential_key (key)
SELECT sha256(convert_to(gen_random_uuid()::TEXT || gen_random_uuid()::TEXT, 'UTF8'))
ON CONFLICT DO NOTHING;

-- What the session statements read of a role: what pg_roles shows, the
-- row's version, and 8 bytes of a keyed SHA-256 of the role's OID and
-- password verifier. Never the verifier itself.
CREATE OR REPLACE VIEW system.role_credentials AS
SELECT a.oid, a.rolname, a.rolcanlogin, a.rolvaliduntil,
    a.xmin::TEXT::BIGINT AS row_version,
    substr(sha256((SELECT k.key FROM system.credential_key k)
        || convert_to(a.oid::TEXT || ':' || COALESCE(a.rolpassword, ''), 'UTF8')), 1, 8) AS password_tag
FROM pg_catalog.pg_authid a;
REVOKE ALL ON system.role_credentials FROM PUBLIC;
GRANT SELECT ON system.role_credentials TO admin;

-- role_version is the row_version the session's role had at login; 0 for a
-- row made without it (an older serve still running during an upgrade, a
-- hand-made row), which is checked by its role's current state alone, as
-- before. revoke_reason is why the credential check revoked the session.
ALTER TABLE system.web_sessions
    ADD COLUMN IF NOT EXISTS role_version  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS password_tag  BYTEA,
    ADD COLUMN IF NOT EXISTS revoke_reason TEXT;

-- Sessions made before this version take their role's state now: a change
-- from here on ends them, one made before is not known. Those whose role is
-- gone already get -1, which no row has: the next sweep revokes them.
UPDATE system.web_sessions s SET role_version = r.row_version, password_tag = r.password_tag
FROM system.role_credentials r
WHERE r.oid = s.user_id::OID AND r.rolname = s.username AND s.revoked_at IS NULL AND s.expires_at > now();
UPDATE system.web_sessions SET role_version = -1
WHERE revoked_at IS NULL AND expires_at > now() AND role_version = 0;

-- The sweep walks the distinct (role, version) pairs of the live sessions,
-- one probe each, and reads only the sessions of pairs that changed.
CREATE INDEX IF NOT EXISTS web_sessions_live_role_idx ON system.web_sessions (user_id, role_version, expires_at)
    WHERE revoked_at IS NULL AND role_version <> 0;

-- Settings that every serve and command over this database applies: a row
-- per setting changed from its default (auth-session settings).
CREATE TABLE IF NOT EXISTS system.settings (
    name   TEXT        NOT NULL,
    value  TEXT        NOT NULL,
    set_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    set_by TEXT        NOT NULL,
    CONSTRAINT settings_pkey PRIMARY KEY (name)
);
REVOKE ALL ON system.settings FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON system.settings TO admin;
