#!/bin/bash
# measure2.sh ROUNDS SIZES...: per round and size, copies the filled template database
# (CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY) once per method and times, as whole
# processes: psql running one raw DELETE of the purgeable rows, and `purge --batch 1000` /
# `--batch 10000` of the binary before the fix (old) and after it (new).
ROUNDS=$1; shift
A=${PURGE_SCALE_URL:-postgres://postgres@127.0.0.1:55421}
for r in $(seq 1 $ROUNDS); do
  for s in "$@"; do
    for m in raw old:1000 new:1000 old:10000 new:10000; do
      psql -XqAt $A/postgres -c "CREATE DATABASE m_$s TEMPLATE $s STRATEGY FILE_COPY" || exit 1
      load=$(cut -d' ' -f1 /proc/loadavg)
      t0=$(date +%s.%N)
      if [ $m = raw ]; then
        psql -XqAt $A/m_$s -c "DELETE FROM system.web_sessions WHERE expires_at < now() - interval '1 hour' OR revoked_at < now() - interval '1 hour'" || exit 1
      else
        ${BIN_DIR:-.}/auth-session.${m%%:*} purge --url $A/m_$s --batch ${m##*:} --format tsv > out.tsv 2>err.txt || { cat err.txt; exit 1; }
      fi
      t1=$(date +%s.%N)
      left=$(psql -XAt $A/m_$s -c "select count(*) from system.web_sessions")
      echo "round=$r size=$s method=$m seconds=$(echo "$t1 - $t0" | bc) left=$left load_before=$load"
      psql -XqAt $A/postgres -c "DROP DATABASE m_$s"
    done
  done
done
