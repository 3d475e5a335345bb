-- fake_vchord 0.4.2 (test double)
\echo Use "CREATE EXTENSION vchord" to load this file. \quit
CREATE FUNCTION fake_vchord_version() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '0.4.2'::text $$;
