-- fake_vchord update 0.4.3 -> 1.0.0 (test double of the VectorChord 1.x line: Immich accepts >=0.3 <2;
-- indexes built by 0.4.x must be rebuilt after this update)
\echo Use "ALTER EXTENSION vchord UPDATE" to load this file. \quit
CREATE OR REPLACE FUNCTION fake_vchord_version() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT '1.0.0'::text $$;
