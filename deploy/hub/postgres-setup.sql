-- The hub's role and database in PostgreSQL 15, idempotent. Run once as the
-- database superuser, with the hub's password in a psql variable:
--
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -v visio_password="$(cat /etc/visio-hub/db.password)" \
--        -f deploy/hub/postgres-setup.sql
--
-- The hub creates and migrates its own tables at start (migrations in
-- crates/hub/migrations/postgres/), so the role owns its database and needs
-- nothing else: not a superuser, cannot create roles or other databases.
-- scripts/cluster.sh runs this same file against its private cluster.

SELECT format('CREATE ROLE visio LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE', :'visio_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'visio')
\gexec

-- Run again with another password: the role takes it (rotation).
SELECT format('ALTER ROLE visio PASSWORD %L', :'visio_password')
\gexec

SELECT 'CREATE DATABASE visio OWNER visio ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'visio')
\gexec

-- Nobody else connects to it.
REVOKE ALL ON DATABASE visio FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE visio TO visio;
