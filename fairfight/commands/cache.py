"""`fairfight cache`: where the shared cache is, its size per area, and clearing or pruning it."""
from __future__ import annotations

import sys

EXIT_OK, EXIT_BAD_INPUT = 0, 2

_WHAT = {"runs": "finished runs", "forward": "forward passes"}


def run_cache(folder=None, *, clear=False, prune=False, max_size=None) -> int:
    from ..cache import CacheError, UserCache, human, max_size as default_cap, parse_size

    if clear and prune:
        print("error: --clear and --prune: choose one", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        cap = parse_size(max_size) if max_size else default_cap()
        cache = UserCache(folder)
    except CacheError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if clear:
        freed = cache.clear()
        print(f"cache: {cache.root}: cleared ({human(freed)} freed)")
        return EXIT_OK
    if prune:
        removed = cache.evict(cap)
        print(f"cache: {cache.root}: evicted {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} "
              f"({human(sum(e.size for e in removed))})")
    usage = cache.usage()
    print(f"cache: {cache.root}")
    print(f"  size: {human(usage['total'])} ({usage['total']} bytes) of a {human(cap)} cap")
    for area, entry in sorted(usage["areas"].items()):
        print(f"  {area}: {entry['entries']} {_WHAT.get(area, 'entries')}, {human(entry['bytes'])}")
    if usage["total"] > cap:
        print(f"  over the cap: entries used in the last few minutes are kept (an eval may be reading them); "
              f"`fairfight cache --prune` trims the rest")
    return EXIT_OK
