"""The run report: self-contained HTML, checked as text and rendered in headless Chromium.

The browser test needs Debian's ``chromium`` (``apt-get install chromium``); it skips without
it, except under ``CI=true``, where a missing browser is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codings import AutoEncoder, Variational
from codings.datasets import Scaling, load_digits
from codings.report import Page, RunData, build_run_report, write_run_report

PNG = b"\x89PNG\r\n\x1a\n"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def run_data(n: int = 200) -> RunData:
    digits = load_digits()
    X = digits.data[:n]
    scaling = Scaling.fit(X, "minmax")
    return RunData("digits", X, scaling.transform(X), scaling, (8, 8), digits.target[:n],
                   "digit")


@pytest.fixture(scope="module")
def data() -> RunData:
    return run_data()


@pytest.fixture(scope="module")
def vae_page(data: RunData) -> str:
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), loss="bce", max_iter=3,
                     constraints=(Variational(),), random_state=0).fit(data.X_scaled)
    params = {"command": ["codings", "fit", "--constraint", "variational"],
              "data": {"source": "digits"}, "timing": {"fit_s": 1.5}}
    return build_run_report(ae, data, params).render()


def images(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', page)


def test_the_page_is_self_contained(vae_page: str) -> None:
    sources = images(vae_page)
    assert len(sources) == 7  # loss, reconstructions, features, codings, samples, paths, scores
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == PNG
    assert "<script" not in vae_page and "<link" not in vae_page
    without_images = re.sub(r'src="data:[^"]*"', "", vae_page)
    assert not re.search(r"(https?:)?//[a-z0-9]", without_images), "an external URL"


def test_the_page_has_every_section(vae_page: str) -> None:
    headings = re.findall(r"<h2>([^<]*)</h2>", vae_page)
    assert headings == ["Run", "Data", "Parameters", "Training history", "Reconstructions",
                        "First-layer features", "Codings", "Generated samples",
                        "Interpolations", "Anomaly scores", "Timing"]
    assert "codings fit --constraint variational" in vae_page
    assert "<td>kl</td>" in vae_page  # every loss term is listed
    assert "coloured by digit" in vae_page and "fit s" in vae_page


def test_the_page_names_the_network_units_and_a_pca_reference(vae_page: str) -> None:
    text = re.sub(r"<[^>]+>", " ", vae_page)
    assert "mlp: input 64, layers 16-2" in text and "variational" in text
    assert "nats per sample" in text  # a VAE's reconstruction is summed per sample
    found = re.search(r"this autoencoder \(2 codings\)\s+([0-9.e-]+)\s+PCA, 2 components"
                      r"\s+([0-9.e-]+)", text)
    assert found, "the reconstruction table beside PCA is missing"
    ours, pca = (float(v) for v in found.groups())
    assert 0 < pca and 0 < ours < 1  # MSE per feature of minmax-scaled digits


def test_non_variational_and_conv_models_skip_what_they_cannot_show(data: RunData) -> None:
    ae = AutoEncoder(architecture="conv", hidden_layer_sizes=(4,), image_shape=(1, 8, 8),
                     max_iter=1, random_state=0).fit(data.X_scaled)
    page = build_run_report(ae, data, {"data": {"source": "digits"}}).render()
    assert "<h2>Generated samples</h2>" not in page
    assert "<h2>First-layer features</h2>" not in page  # a section that does not apply


def test_only_changed_parameters_are_listed_as_changed(data: RunData) -> None:
    ae = AutoEncoder(hidden_layer_sizes=(8,), max_iter=1, random_state=0).fit(data.X_scaled)
    page = build_run_report(ae, None, {}).render()
    changed = page.split("Parameters that differ from the defaults", 1)[1].split("</table>")[0]
    assert "<td>hidden_layer_sizes</td>" in changed and "<td>constraints</td>" not in changed


def test_a_report_without_data_keeps_what_does_not_need_it(data: RunData) -> None:
    ae = AutoEncoder(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(data.X_scaled)
    page = build_run_report(ae, None, {"data_problem": "Data file not found: x.npy"}).render()
    assert "Data file not found: x.npy" in page
    assert len(images(page)) == 2  # the loss curve and the features (64 = 8x8 is drawable)


def test_text_is_escaped() -> None:
    page = Page("<title>")
    page.section("a & b").text("`<code>` and *emphasis*").table([("<x>", 1.5)])
    html = page.render()
    assert "&lt;title&gt;" in html and "<code>&lt;code&gt;</code>" in html
    assert "<em>emphasis</em>" in html and "<td>&lt;x&gt;</td>" in html


# -- in a real browser -------------------------------------------------------------------------
def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("No Chromium found; CI must install it (apt-get install -y chromium).")
    pytest.skip("No Chromium on this machine (apt-get install chromium to run this test).")


# Counts, once the page has loaded, the images that decoded and every resource the page
# fetched (data: URLs are not resources), into attributes that --dump-dom shows.
PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var fetched = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-decoded", imgs.filter(function (i) {
    return i.complete && i.naturalWidth > 0; }).length);
  document.body.setAttribute("data-fetched", fetched.join(" "));
});
</script>"""


def render(browser: str, page: Path, work: Path) -> dict[str, Any]:
    """Load ``page`` headless: screenshot, probe results and the page's own network requests."""
    probe = work / f"probe-{page.name}"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    netlog, screenshot = work / "netlog.json", work / "screenshot.png"
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}"]
    shot = subprocess.run([*common, f"--screenshot={screenshot}", "--window-size=1200,3000",
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0, shot.stderr[-2000:]
    dom = subprocess.run([*common, f"--log-net-log={netlog}", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    attributes = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    return {"screenshot": screenshot.read_bytes(), "images": int(attributes["images"]),
            "decoded": int(attributes["decoded"]), "fetched": attributes["fetched"].split(),
            "requests": page_requests(netlog)}


def page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for: requests with an initiator (the browser's own background
    requests, which the page cannot cause, have none)."""
    log = json.loads(netlog.read_text())
    names = {value: key for key, value in log["constants"]["logEventTypes"].items()}
    return [event["params"]["url"] for event in log["events"]
            if names.get(event["type"]) == "URL_REQUEST_START_JOB"
            and event.get("params", {}).get("initiator", "not an origin") != "not an origin"]


def test_the_report_renders_in_chromium_without_the_network(tmp_path: Path,
                                                             data: RunData) -> None:
    browser = find_browser()
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(16,), loss="bce", max_iter=3,
                     constraints=(Variational(),), random_state=0).fit(data.X_scaled)
    page = write_run_report(tmp_path, ae, data, {"command": ["codings", "fit"]})
    result = render(browser, page, tmp_path)
    assert result["screenshot"][:8] == PNG and len(result["screenshot"]) > 20_000
    assert result["images"] == len(images(page.read_text())) == 7
    assert result["decoded"] == result["images"], "a figure did not load"
    assert result["fetched"] == [] and result["requests"] == []


def test_the_browser_check_catches_a_page_that_fetches(tmp_path: Path) -> None:
    """The harness itself: an external image is seen as a request and as a failed image."""
    browser = find_browser()
    page = tmp_path / "bad.html"
    png = base64.b64encode(PNG + bytes(16)).decode()
    page.write_text(f'<html><body><img src="http://example.invalid/x.png">'
                    f'<img src="data:image/png;base64,{png}"></body></html>')
    result = render(browser, page, tmp_path)
    assert result["fetched"] == ["http://example.invalid/x.png"]
    assert result["requests"] == ["http://example.invalid/x.png"]
    assert result["decoded"] == 0 and result["images"] == 2


def test_report_png_sizes_stay_small(vae_page: str) -> None:
    sizes = [len(base64.b64decode(s.split(",", 1)[1])) for s in images(vae_page)]
    assert max(sizes) < 200_000 and np.sum(sizes) < 600_000
