"""The lab's report: ``python -m fnn.lab --quick`` writes it, and headless
Chromium opens the HTML offline with every embedded figure loaded.

Chromium comes from Debian's ``chromium`` package, which ``make test``
installs (``make test-deps``) when it runs as root. Without Chromium the
browser tests fail, on purpose: a report nobody has seen render is not
tested. Set ``FNN_CHROMIUM`` to use another Chromium or Chrome binary.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from html import unescape

import numpy as np
import pytest

WINDOW = (1280, 2400)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Run the whole quick lab once; its output directory and wall time."""
    out = tmp_path_factory.mktemp("lab-output")
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "fnn.lab", "--quick", "--no-progress", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    assert run.returncode == 0, run.stderr
    return out, seconds, run.stdout


def chromium() -> str:
    candidates = [os.environ.get("FNN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    for name in candidates:
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.fail(
        "Chromium is needed to test the lab's HTML report and was not found. Install it "
        "with `make test-deps` (as root; it runs `apt-get install -y chromium`), or "
        "`sudo apt-get install chromium`, or point FNN_CHROMIUM at a Chromium/Chrome binary.",
        pytrace=False,
    )


def run_chromium(profile, *args, timeout=60):
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # needed as root, as in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


# Appended to a copy of the report: once everything has loaded, write each
# image's natural size into the DOM, where --dump-dom can read it.
IMAGE_PROBE = """
<script>
window.addEventListener("load", () => {
  const sizes = Array.from(document.images, (img) => ({
    alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
  }));
  const out = document.createElement("pre");
  out.id = "image-probe";
  out.textContent = JSON.stringify(sizes);
  document.body.appendChild(out);
});
</script>
"""


def test_quick_lab_writes_every_file_in_reasonable_time(report):
    out, seconds, stdout = report
    # The target is under 30 s; the bound leaves room for a busy machine.
    assert seconds < 90, f"python -m fnn.lab --quick took {seconds:.0f} s"
    for name in ("index.html", "report.md", "results.json"):
        assert (out / name).stat().st_size > 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 9
    data = json.loads((out / "results.json").read_text())
    assert [e["name"] for e in data["exercises"]] == [
        "binary",
        "activations",
        "multiclass",
        "optimizers",
        "regularization",
        "tuning",
    ]
    markdown = (out / "report.md").read_text()
    for png in pngs:
        assert f"]({png.name})" in markdown
    assert "All 6 exercise(s)" in stdout


def test_html_report_is_self_contained(report):
    out, _, _ = report
    page = (out / "index.html").read_text()
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", page)
    assert "<link" not in page
    images = re.findall(r'<img src="data:image/png;base64,', page)
    assert len(images) == len(list(out.glob("*.png")))
    assert page.count("<section") == 6


def test_chromium_loads_every_embedded_figure(report, tmp_path):
    out, _, _ = report
    page = (out / "index.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", IMAGE_PROBE + "</body>"))
    run = run_chromium(
        tmp_path / "profile",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.as_uri(),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    match = re.search(r'<pre id="image-probe">(.*?)</pre>', run.stdout, re.S)
    assert match, "the page's load handler did not run:\n" + run.stdout[-2000:]
    sizes = json.loads(unescape(match.group(1)))
    expected = {png.stem: png_size(png.read_bytes()) for png in out.glob("*.png")}
    assert len(sizes) == len(expected)
    for image in sizes:
        assert image["complete"] and image["width"] > 0, f"image not loaded: {image}"
    # Each embedded image has the size of the PNG file written beside the report.
    assert sorted((i["width"], i["height"]) for i in sizes) == sorted(expected.values())


def test_chromium_screenshot_shows_the_report(report, tmp_path):
    out, _, _ = report
    shot = tmp_path / "report.png"
    run = run_chromium(
        tmp_path / "profile",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={shot}",
        "--virtual-time-budget=10000",
        (out / "index.html").as_uri(),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert png_size(shot.read_bytes()) == WINDOW
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    # Not a blank page: text, tables and figures give plenty of contrast.
    assert pixels.std() > 20
    assert (pixels < 100).mean() > 0.01
