#!/bin/bash
# The official image's pg_hba.conf has no `replication` line: let the standby stream.
set -euo pipefail
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
