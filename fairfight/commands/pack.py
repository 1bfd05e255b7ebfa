"""`fairfight pack BUNDLE`: one archive to publish (fairfight/pack.py), its sha256 printed."""
from __future__ import annotations

import sys

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def run_pack(bundle, *, out=None, spec=None, max_file=None) -> int:
    from ..cache import CacheError, human, parse_size
    from ..errors import FairfightError
    from ..pack import MAX_FILE, pack

    try:
        limit = parse_size(max_file) if max_file else MAX_FILE
        packed = pack(bundle, out, spec_path=spec, max_file=limit)
    except (FairfightError, CacheError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: cannot pack {bundle}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"packed {packed.files} files into {packed.path} ({human(packed.size)})")
    for item in packed.left_out:
        print(f"  left out ({item['why']}): {item['what']} {item['path']} ({human(item['bytes'])}, "
              f"sha256 {item['sha256']})")
    print(f"sha256 {packed.sha256}  {packed.path.name}")
    return EXIT_OK
