#!/bin/bash
# A streaming standby: clone the primary once with pg_basebackup -R (writes
# primary_conninfo and standby.signal), then run as a hot standby.
set -euo pipefail
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h postgres -U postgres; do sleep 1; done
  pg_basebackup -h postgres -U postgres -D "$PGDATA" -R -X stream --checkpoint=fast
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on
