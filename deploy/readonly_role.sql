-- Read-only role for the store agent's SQL: `salesbot_agent_ro`.
--
-- The store agent runs every generated SELECT as this role (`SET LOCAL ROLE salesbot_agent_ro` inside a
-- READ ONLY transaction with a statement timeout, backend/agent/executor.py), so a query that slips past
-- the SQL guard still can read only the retail tables below and can change nothing.
--
-- `salesbot migrate` does all of this itself (migration ff4caa929018, store_agent_retail_kb_readonly_role)
-- when the migrating user may create roles. Run this script as a superuser (or a CREATEROLE user) when:
--   * the database user in DATABASE_URL has no CREATEROLE: run it BEFORE the first `salesbot migrate`,
--     which otherwise stops with "permission denied to create role";
--   * the API and workers log in as a different user than the one that migrated: the migration only
--     grants the role to the migrating user, and the agent fails with "permission denied to set role";
--   * a database was restored into a cluster that does not have the role yet (roles are not in pg_dump).
--
-- Usage (the database the app uses; app_user is the login of DATABASE_URL, default salesbot):
--   psql -v app_user=salesbot -d salesbot -f deploy/readonly_role.sql
--
-- The script is idempotent: run it again after migrations, a restore or a new app login.
-- The names mirror the migration exactly; change them there first if they ever change.

\set ON_ERROR_STOP on
\if :{?app_user}
\else
  \set app_user salesbot
\endif

BEGIN;

-- The role is cluster-wide and cannot log in; it is only ever SET by the app's own login.
-- (Like the migration: create it once, tolerate a concurrent creator.)
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'salesbot_agent_ro') THEN CREATE ROLE salesbot_agent_ro NOLOGIN; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;

-- The app's login must be a member to `SET ROLE` to it (the migration grants it to CURRENT_USER).
GRANT salesbot_agent_ro TO :"app_user";

-- Privileges are per database: USAGE on the retail schema and SELECT on six of its tables, nothing else.
-- Not readable: retail.action_logs (the coupon executor's idempotency log), the kb schema, and every
-- table of the platform itself (users, messages, the cost ledger, ...). No default privileges: a table
-- added to retail later is not readable until a migration grants it.
SELECT to_regnamespace('retail') IS NOT NULL AS retail_exists \gset
\if :retail_exists
GRANT USAGE ON SCHEMA retail TO salesbot_agent_ro;
GRANT SELECT ON retail.stores, retail.members, retail.orders, retail.order_items, retail.coupons, retail.campaigns TO salesbot_agent_ro;
\else
\echo 'schema retail does not exist yet: `salesbot migrate` creates it and grants these privileges itself'
\endif

COMMIT;
