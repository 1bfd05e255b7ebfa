"""report.html in a real browser: headless Chromium renders it offline, with no console errors."""
import os
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from fairfight.report import render_html

from report_fixtures import FIXTURES, load

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                    "(apt-get install -y chromium) for the headless screenshot")
def test_headless_chromium_screenshot(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(load(FIXTURES / "results.json")), encoding="utf-8")
    png = tmp_path / "report.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND",  # any network fetch would fail (and show)
           "--enable-logging=stderr", "--v=0", f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}",
           f"--screenshot={png}", "--window-size=1400,3000", page.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert png.exists(), r.stderr[-3000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 100_000, len(data)
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 3000)
    console = [line for line in r.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
               or "ERR_NAME_NOT_RESOLVED" in line or "net::ERR" in line]
    assert not console, console
