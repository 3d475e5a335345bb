-- fake_vchord downgrade 0.4.3 -> 0.4.2 (test double; lets the tests simulate an older install)
\echo Use "ALTER EXTENSION vchord UPDATE TO '0.4.2'" to load this file. \quit
CREATE OR REPLACE FUNCTION fake_vchord_version() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '0.4.2'::text $$;
