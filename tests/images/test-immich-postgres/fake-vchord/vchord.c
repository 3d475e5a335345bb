/*
 * fake_vchord: a stand-in for VectorChord's vchord.so in the test image (VectorChord cannot be
 * downloaded here). It only carries PG_MODULE_MAGIC, so that
 * shared_preload_libraries = 'vchord.so' really loads a library into the server.
 */
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

void _PG_init(void);

void
_PG_init(void)
{
}
