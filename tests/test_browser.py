"""A real browser: JupyterLab, headless, on 127.0.0.1, driven in Debian's Chromium by Playwright.

Run with ``make test-browser`` (``pytest -m browser``); ``make test`` skips it. The test starts
everything it needs: a JupyterLab server on a free loopback port with a random token, its
Jupyter folders in a temporary directory (so no user-level settings or kernels of another
checkout take part: the notebook's "progress-kit" kernel is the one inside this .venv), and
Chromium (``/usr/bin/chromium``, or ``PK_CHROMIUM``). It opens a copy of
``progress_kit/notebooks/explore.ipynb``, runs every cell, waits until every cell has run and the
cohort table holds a row per client, picks another client and checks that the chart and the status
change to that client's; then opens a client from the cohort table. When it fails it prints what
CI keeps: what the explorer held, the page's console errors and the end of JupyterLab's log.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("PK_CHROMIUM", "/usr/bin/chromium"))
# the in-memory demo that explore.ipynb falls back to when there is no data/demo folder
DEMO = {"n_clients": 60, "months": 6, "seed": 0, "end": "2026-10-31"}
SLOW = int(os.environ.get("PK_BROWSER_TIMEOUT_MS", 240_000))  # two shared cores: be patient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback only
        return r.read()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set PK_CHROMIUM)")
    import playwright.sync_api  # noqa: F401 - fail, not skip: make test-browser must test something
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    shutil.copyfile(ROOT / "progress_kit" / "notebooks" / "explore.ipynb", root / "explore.ipynb")
    env = dict(os.environ, MPLBACKEND="Agg", JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               IPYTHONDIR=str(tmp / "ipython"), JUPYTER_PLATFORM_DIRS="1")
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp / "lab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly"]
        + (["--allow-root"] if os.geteuid() == 0 else []),  # CI runs as root
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (tmp / "lab.log").read_text(errors="replace")[-3000:]) from None
                time.sleep(0.5)
        yield {"base": base, "token": token, "root": root, "tmp": tmp}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_lab_uses_this_checkouts_kernel(lab):
    specs = json.loads(_get(f"{lab['base']}/api/kernelspecs?token={lab['token']}"))
    spec = specs["kernelspecs"]["progress-kit"]["spec"]
    assert Path(os.path.abspath(spec["argv"][0])).is_relative_to(os.path.abspath(sys.prefix)), spec["argv"]


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def test_explorer_in_jupyterlab(lab):
    from playwright.sync_api import expect, sync_playwright

    import progress_kit as pk

    clinic = pk.demo_data(**DEMO)
    flags = pk.client_flags(clinic.observations, sessions=clinic.sessions, measure="PHQ-9",
                            as_of=max(clinic.observations["date"].max(), clinic.sessions["date"].max()))
    first = sorted(flags.index)[0]
    other = next(c for c in sorted(flags.index) if flags.loc[c, "status"] != flags.loc[first, "status"])
    shots = lab["tmp"]
    console: list[str] = []  # the page's errors and warnings, printed if the test fails
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.set_default_timeout(SLOW)
            page.goto(f"{lab['base']}/lab/tree/explore.ipynb?token={lab['token']}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            # the kernel named in the notebook starts by itself; wait until it is idle
            page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for()
            _menu(page, "Run", "Run All Cells")
            explorer = page.locator(".pk-explorer")
            explorer.wait_for(state="attached")
            explorer.scroll_into_view_if_needed()
            expect(page.locator(".jp-OutputArea-output", has_text="Data: the synthetic demo clinic")
                   ).to_have_count(1)
            # every cell has run ("[*]" marks a queued or running cell), so the clicks below
            # do not race the notebook's later cells for the kernel and the page's layout
            expect(page.locator(".jp-InputPrompt", has_text="*")).to_have_count(0)
            # the cohort tab's flags table holds a row per client before any click
            expect(explorer.locator("button.pk-open-client")).to_have_count(len(flags))
            status = explorer.locator(".pk-status-label")
            chart = explorer.locator("img.pk-chart")
            expect(status).to_have_text(str(flags.loc[first, "status"]))
            src_before = chart.get_attribute("src")
            page.screenshot(path=str(shots / "before.png"))

            explorer.locator(".pk-client-picker select").select_option(label=other)
            expect(status).to_have_text(str(flags.loc[other, "status"]))
            expect(explorer.locator(".pk-status")).to_contain_text(other)
            expect(chart).not_to_have_attribute("src", src_before)
            page.screenshot(path=str(shots / "after.png"))

            # the cohort table: click a client and the client view opens on it
            explorer.locator(".lm-TabBar-tab", has_text="Cohort").click()
            row = explorer.locator("button.pk-open-client", has_text=first)
            row.click()
            expect(status).to_be_visible()          # back in the client view
            expect(status).to_have_text(str(flags.loc[first, "status"]))
            expect(explorer.locator(".pk-status")).to_contain_text(first)
            page.screenshot(path=str(shots / "cohort.png"))
        except Exception:
            page.screenshot(path=str(shots / "failure.png"))  # to see what the browser saw
            print(f"browser screenshot: {shots / 'failure.png'}; JupyterLab log: {shots / 'lab.log'}")
            _print_what_the_page_held(page, console, shots / "lab.log")
            raise
        finally:
            browser.close()


def _print_what_the_page_held(page, console: list[str], log: Path) -> None:
    """CI keeps only the printed output: say what the explorer held, what the page logged and
    the end of JupyterLab's log, so that a failure there can be understood afterwards."""
    counts = {sel: page.locator(sel).count() for sel in (
        ".pk-explorer", ".pk-explorer .lm-TabBar-tab", ".pk-explorer .pk-flags-table",
        ".pk-explorer button.pk-open-client", ".jp-InputPrompt")}
    print("elements:", counts)
    current = page.locator(".pk-explorer .lm-TabBar-tab.lm-mod-current")
    print("current tab:", [t.text_content() for t in current.all()] or "none")
    # textContent, not innerText: the notebook skips rendering cells out of view
    print("code cells' prompts:", page.evaluate(
        "Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))"
        ".map(e => e.textContent).join(' ')"))
    print("page console (errors and warnings):", *console[-40:], sep="\n  ")
    print("JupyterLab log, last 3000 characters:\n" + log.read_text(errors="replace")[-3000:])
