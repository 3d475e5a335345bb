-- fake_vchord 1.0.0 (test double of the VectorChord 1.x line)
\echo Use "CREATE EXTENSION vchord" to load this file. \quit
CREATE FUNCTION fake_vchord_version() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '1.0.0'::text $$;
