#!/bin/sh
# Runs once, when the compose file's Postgres initialises an empty data volume: creates
# milepost's login role (POSTGRES_USER / POSTGRES_PASSWORD of .env), which is no superuser and
# owns nothing but the `milepost` schema of its database (POSTGRES_DB).
set -eu

if [ "$MILEPOST_DB_USER" = postgres ]; then
    echo "POSTGRES_USER must not be postgres: milepost runs as a role of its own" >&2
    exit 1
fi

psql --no-psqlrc -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
    -v app_user="$MILEPOST_DB_USER" -v app_password="$MILEPOST_DB_PASSWORD" \
    -v app_db="$MILEPOST_DB" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE DATABASE :"app_db" OWNER postgres;
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"app_db" TO :"app_user";
\connect :"app_db"
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA milepost AUTHORIZATION :"app_user";
ALTER ROLE :"app_user" IN DATABASE :"app_db" SET search_path = milepost;
SQL
