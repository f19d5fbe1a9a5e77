"""The browser page: notebooks/generate.ipynb served by Voilà on 127.0.0.1, driven in headless Chromium.

Uses Debian's chromium (/usr/bin/chromium, installed by .ci/run) through Playwright; Playwright's own
browser downloads are never used. Requests to any host other than the local server are aborted, so the
page's external images (the Colab badge) and CDN fonts cannot reach the network. Screenshots are kept
in the test's temporary folder.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.generator_runs import second_dataset, shipped_mnist

# The module fixture is expensive: under pytest-xdist (make test) these tests share one worker.
pytestmark = pytest.mark.xdist_group("notebook/test_voila_page")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGE_TIMEOUT_MS = 180_000  # Voilà starts a kernel and imports keras before it sends the widgets

if not CHROMIUM.is_file():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium", pytrace=False)
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("voila", reason="the [notebooks] extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="the [notebooks] extra is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voila exited with code {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"voila did not listen on port {port} within {seconds} s")


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voila")
    root = folder / "results"
    mnist = shipped_mnist(root)
    second, how = second_dataset(root)
    port = free_port()
    with open(folder / "voila.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "voila", str(REPO / "notebooks" / "generate.ipynb"), "--no-browser",
             f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, CGAN_RESULTS_DIR=str(root)))
        try:
            wait_for_port(port, process)
            yield {"url": f"http://127.0.0.1:{port}/", "mnist": mnist, "second": second, "how": how}
        finally:
            process.terminate()  # Voilà shuts its kernels down on SIGTERM
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def browser_page(tmp_path):
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = context.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1")
                   else route.abort())
        try:
            yield page
        finally:
            context.close()


class GeneratePage:
    def __init__(self, page):
        self.page = page
        self.run = page.locator(".widget-dropdown select").nth(0)
        self.label = page.locator(".widget-dropdown select").nth(1)
        self.status = page.locator(".widget-html-content")
        self.image = page.locator("img.widget-image")

    def generate(self, label_value: str, expect_in_status: str, keep: Path) -> np.ndarray:
        """Pick a label, press Generate, wait for the new image; keep its screenshot and return its pixels."""
        self.label.select_option(value=label_value)
        before = self.image.get_attribute("src")  # every new value gets a new blob URL
        self.page.get_by_role("button", name="Generate").click()
        sync_api.expect(self.status).to_contain_text(expect_in_status, timeout=60_000)
        self.page.wait_for_function("([img, before]) => img.src !== before && img.complete && img.naturalWidth > 0",
                                    arg=[self.image.element_handle(), before], timeout=30_000)
        self.image.screenshot(path=str(keep))
        return np.asarray(Image.open(keep).convert("L"))

    def option_for(self, name: str) -> str:
        values = self.label.locator("option").evaluate_all("options => options.map(o => o.value)")
        return next(v for v in values if v.split(": ", 1)[1] == name)


@pytest.mark.slow
def test_pick_a_label_in_the_browser(page_server, browser_page, tmp_path):
    page = browser_page
    page.goto(page_server["url"], timeout=PAGE_TIMEOUT_MS)
    ui = GeneratePage(page)
    ui.label.wait_for(timeout=PAGE_TIMEOUT_MS)
    runs = ui.run.locator("option").all_inner_texts()
    assert runs[0] == page_server["mnist"] and page_server["second"] in runs

    seven = ui.generate(ui.option_for("7"), "label 7", tmp_path / "mnist_7.png")
    assert seven.std() > 10, "the image for 7 is blank"
    three = ui.generate(ui.option_for("3"), "label 3", tmp_path / "mnist_3.png")
    # Any pixel change means the page showed a new image (the rendering is deterministic); how much the
    # label changes the digit depends on how far the shipped generator has trained, not on the page.
    assert three.shape == seven.shape and np.any(three != seven), "label changed, image did not"
    page.screenshot(path=str(tmp_path / "voila_mnist.png"), full_page=True)

    # The second dataset: the shipped, trained CIFAR-10 generator (tests/generator_runs.py), picked by class name.
    ui.run.select_option(value=page_server["second"])
    sync_api.expect(ui.label.locator("option").nth(3)).to_have_text("3: cat", timeout=60_000)
    cat = ui.generate(ui.option_for("cat"), "× cat", tmp_path / "second_cat.png")
    dog = ui.generate(ui.option_for("dog"), "× dog", tmp_path / "second_dog.png")
    assert cat.std() > 10 and np.any(cat != dog), f"label changed, image did not ({page_server['how']})"
    page.screenshot(path=str(tmp_path / "voila_second_dataset.png"), full_page=True)
    print(f"screenshots in {tmp_path}; second dataset: {page_server['how']}")
