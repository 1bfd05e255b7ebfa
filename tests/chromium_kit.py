"""Headless Chromium as the report and feature-card tests run it (offline: any network fetch
fails, and shows). Fails rather than skips without Chromium: `make browser` installs it."""
import os
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def chromium(tmp_path, *args):
    assert CHROMIUM.exists(), ("needs Debian's chromium at /usr/bin/chromium (`make browser`, or apt-get install -y "
                               "chromium)")
    cmd = [str(CHROMIUM), *FLAGS, "--enable-logging=stderr", "--v=0",
           f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})


def console_errors(stderr: str) -> list:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
            or "ERR_NAME_NOT_RESOLVED" in line or "net::ERR" in line]
