-- fake_vchord update 0.4.2 -> 0.4.3 (test double)
\echo Use "ALTER EXTENSION vchord UPDATE" to load this file. \quit
CREATE OR REPLACE FUNCTION fake_vchord_version() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '0.4.3'::text $$;
