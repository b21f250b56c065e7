#!/bin/bash
# fill.sh DB N: N sessions, 10% purgeable (expired 2h..30d ago), 1000 expired in the last hour,
# 5% of live revoked 10 min ago, the rest live; half with a user agent. Indexes rebuilt after.
set -e
DB=$1; N=$2
U=${PURGE_SCALE_URL:-postgres://postgres@127.0.0.1:55421}/$DB
psql -v ON_ERROR_STOP=1 -q $U <<SQL
SET maintenance_work_mem = '1GB';
TRUNCATE system.web_sessions;
CREATE TEMP TABLE idx AS SELECT indexname, indexdef FROM pg_indexes WHERE schemaname='system' AND tablename='web_sessions' AND indexname <> 'web_sessions_pkey';
DO \$\$ DECLARE r record; BEGIN FOR r IN SELECT * FROM idx LOOP EXECUTE 'DROP INDEX system.' || r.indexname; END LOOP; END \$\$;
ALTER TABLE system.web_sessions SET (autovacuum_enabled = false);
INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, created_at, expires_at, revoked_at, last_used_at, audit_info)
SELECT i, decode(md5(i::text) || md5((i+1)::text), 'hex'), 'user' || (i % 10000), 16384 + i % 10000,
  c, e, CASE WHEN i > $N/10 + 1000 AND i % 20 = 0 THEN now() - interval '10 minutes' END, c,
  CASE WHEN i % 2 = 0 THEN '{"via":"http","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}'::jsonb ELSE '{"via":"cli"}'::jsonb END
FROM generate_series(1, $N) i,
LATERAL (SELECT CASE
   WHEN i <= $N/10 THEN now() - interval '31 days' + (i::float8 / ($N/10)) * interval '30 days'
   WHEN i <= $N/10 + 1000 THEN now() - interval '2 hours' + ((i - $N/10)::float8 / 1000) * interval '30 minutes'
   ELSE now() - interval '1 hour' + ((i - $N/10)::float8 / $N) * interval '1 hour' END AS c) cc,
LATERAL (SELECT CASE
   WHEN i <= $N/10 THEN c + interval '1 hour' + interval '1 hour'
   WHEN i <= $N/10 + 1000 THEN c + interval '1 hour'
   ELSE c + interval '12 hours' END AS e) ee;
DO \$\$ DECLARE r record; BEGIN FOR r IN SELECT * FROM idx LOOP EXECUTE r.indexdef; END LOOP; END \$\$;
VACUUM (ANALYZE) system.web_sessions;
CHECKPOINT;
SQL
