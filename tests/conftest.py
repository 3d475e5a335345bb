"""Make the collection importable as ansible_collections.homelab.immich from the working tree."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".collections"
link = COLLECTIONS / "ansible_collections" / "homelab" / "immich"
if not link.exists():
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("../../.."), target_is_directory=True)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
