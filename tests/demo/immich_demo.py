"""The demo's sample photos and its browser test, run on the machine that reaches Immich's URL.

  immich_demo.py photos --url URL --admin-email E --admin-password-file F [--count 12]
      makes COUNT JPEGs (EXIF date and GPS position, tests/e2e/immich_e2e.py make_jpeg), uploads
      them as the admin (a second run finds them already there) and waits until Immich's jobs
      (metadata, thumbnails, smart search, faces) have run.
  immich_demo.py status-line < STATS
      prints the balancer's statistics (JSON of ml_probe.py stats on stdin) as one line:
      each ML worker's state and the requests it served.
  immich_demo.py browse --url URL --admin-email E --admin-password-file F --screenshots DIR [--count 12]
      the browser test: the photos step, then the distribution's Chromium (headless, driven by
      Selenium through its chromedriver) opens URL, finds Immich's login page, signs in as the
      admin, finds every sample photo in the timeline and through smart search in the search
      bar, and saves screenshots of the login page, the timeline and the search results in DIR.
Each command prints one JSON document on stdout; the exit code is 0 only when all is well.
Needs Pillow and Selenium (requirements.txt) and, for `browse`, chromium and chromium-driver
(Debian packages; ci/host-setup.sh installs them).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import immich_e2e as e2e  # tests/e2e: the Api client, the JPEGs, the queue wait

DEVICE_ID = "homelab-immich-demo"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def cmd_photos(args) -> dict:
    admin = e2e.admin_api(args)
    statuses, ids = {}, []
    for i in range(args.count):
        data, iso, _place = e2e.make_jpeg(i)
        body, ctype = e2e.multipart(
            {"deviceAssetId": f"demo-{i:03d}", "deviceId": DEVICE_ID, "fileCreatedAt": iso, "fileModifiedAt": iso},
            f"demo-{i:03d}.jpg",
            data,
        )
        res = admin.call("POST", "/assets", raw=body, content_type=ctype)
        statuses[res["status"]] = statuses.get(res["status"], 0) + 1
        ids.append(res["id"])
    waited = e2e.cmd_wait(argparse.Namespace(**{**vars(args), "queues": "", "allow_failed": False}))
    ok = statuses.get("created", 0) + statuses.get("duplicate", 0) == args.count and waited["ok"]
    out = {"ok": ok, "uploaded": statuses, "asset_ids": ids, "jobs_failed": waited.get("failed")}
    if not waited["ok"]:
        out["error"] = waited.get("error")
    return out


def _driver(insecure=False):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000", "--lang=en-US"):
        opts.add_argument(arg)
    if insecure:  # a private CA the browser's own store does not hold (the API clients check it: SSL_CERT_FILE)
        opts.add_argument("--ignore-certificate-errors")
    return webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))


THUMBNAILS = "[data-thumbnail-focus-container][data-asset]"
# scrolls the element that scrolls the thumbnails (the timeline's own container, else the page)
SCROLL = """
let el = arguments[0];
while (el && !(el.scrollHeight > el.clientHeight + 8 && /auto|scroll/.test(getComputedStyle(el).overflowY))) {
  el = el.parentElement;
}
el = el || document.scrollingElement;
const before = el.scrollTop;
el.scrollBy(0, arguments[1]);
return el.scrollTop !== before;
"""


def _assets_shown(driver) -> set:
    return {el.get_attribute("data-asset") for el in driver.find_elements("css selector", THUMBNAILS)}


def _find_all(driver, wanted: set, timeout: float) -> set:
    """The wanted assets seen on the page, scrolling down through it: the timeline renders only
    the rows in view. Returns what was seen once all are, or at the timeout."""
    seen, deadline = set(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen |= _assets_shown(driver) & wanted
        if wanted <= seen:
            break
        thumbs = driver.find_elements("css selector", THUMBNAILS)
        moved = bool(thumbs) and driver.execute_script(SCROLL, thumbs[-1], 500)
        time.sleep(0.3 if moved else 1)
    return seen


def _scroll_top(driver):
    thumbs = driver.find_elements("css selector", THUMBNAILS)
    if thumbs:
        driver.execute_script(SCROLL, thumbs[0], -100000)
        time.sleep(1)  # the rows in view render and their images paint


def _until_assets(driver, wait, reloads: list):
    """Wait until assets are shown; once, reload the page first when they are not: on a loaded
    2-core machine a page once came without its stylesheet, and the unstyled timeline never laid
    out its rows (a user would reload too)."""
    from selenium.common.exceptions import TimeoutException

    try:
        wait.until(lambda d: _assets_shown(d) or None)
    except TimeoutException:
        reloads.append(driver.current_url)
        driver.refresh()
        wait.until(lambda d: _assets_shown(d) or None)


def cmd_browse(args) -> dict:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    photos = cmd_photos(args)
    if not photos["ok"]:
        return {**photos, "error": f"sample photos: {photos.get('error') or photos['uploaded']}"}
    wanted = set(photos["asset_ids"])
    with open(args.admin_password_file, encoding="utf-8") as fh:
        password = fh.read().strip()
    os.makedirs(args.screenshots, exist_ok=True)
    for stale in ("failed.png",):  # of an earlier failed run
        if os.path.exists(os.path.join(args.screenshots, stale)):
            os.remove(os.path.join(args.screenshots, stale))
    shots, steps, reloads = [], {}, []
    driver = _driver(args.browser_insecure_tls)
    wait = WebDriverWait(driver, args.page_timeout)

    def shot(name):
        path = os.path.join(args.screenshots, name)
        driver.save_screenshot(path)
        shots.append(path)

    try:
        # the printed URL: not signed in, Immich sends the browser to its login page
        driver.get(args.url)
        email = wait.until(lambda d: d.find_elements("css selector", "input#email") or None)[0]
        steps["login_page"] = driver.current_url
        shot("1-login.png")
        email.send_keys(args.admin_email)
        driver.find_element("css selector", "input#password").send_keys(password)
        driver.find_element("css selector", "form button[type=submit]").click()
        wait.until(lambda d: "/auth/login" not in d.current_url)
        steps["signed_in"] = driver.current_url  # /photos, or the admin's first-time onboarding
        # the timeline: every sample photo is there (scrolling down through it)
        driver.get(args.url.rstrip("/") + "/photos")
        _until_assets(driver, wait, reloads)
        seen = _find_all(driver, wanted, args.page_timeout)
        steps["timeline"] = len(seen)
        if not wanted <= seen:
            raise AssertionError(f"the timeline shows {len(seen)} of the {len(wanted)} sample photos")
        _scroll_top(driver)
        shot("2-timeline.png")
        # smart search, typed into the search bar as a user does
        search_bar = wait.until(lambda d: d.find_elements("css selector", "input#main-search-bar") or None)[0]
        search_bar.click()
        search_bar.send_keys(args.query, Keys.ENTER)
        wait.until(lambda d: "/search" in d.current_url)
        _until_assets(driver, wait, reloads)
        seen = _find_all(driver, wanted, args.page_timeout)
        steps["smart_search"] = {"url": driver.current_url, "found": len(seen)}
        if not wanted <= seen:
            found = f"{len(seen)} of the {len(wanted)} sample photos"
            raise AssertionError(f"smart search for {args.query!r} shows {found}")
        _scroll_top(driver)
        shot("3-smart-search.png")
        ok = True
        error = None
    except Exception as exc:  # the JSON says where it stopped; the screenshot shows what was on screen
        ok, error = False, f"{type(exc).__name__} at step {len(steps) + 1} on {driver.current_url}: {exc}".strip()
        shot("failed.png")
    finally:
        driver.quit()
    out = {"ok": ok, "photos": len(wanted), "steps": steps, "screenshots": shots, "reloads": reloads}
    if error:
        out["error"] = error[:2000]
    return out


def status_line(stats: dict) -> str:
    """HAProxy's per-worker statistics (ml_probe.py stats) as one line."""
    return " | ".join(f"{name}: {v['status']}, {v['served']} served" for name, v in sorted(stats.items()))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status-line"]:
        print(status_line(json.load(sys.stdin)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["photos", "browse"])
    parser.add_argument("--url", default="http://127.0.0.1:2283")
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--admin-password-file", required=True)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=600, help="for the jobs after the upload")
    parser.add_argument("--settle", type=float, default=6)
    parser.add_argument("--page-timeout", type=float, default=60)
    parser.add_argument("--query", default="a photo")
    parser.add_argument("--screenshots", default="build/browser")
    parser.add_argument(
        "--browser-insecure-tls", action="store_true", help="browse: accept a certificate of a private CA"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "photos":
            out = cmd_photos(args)
            out.pop("asset_ids")
        else:
            out = cmd_browse(args)
    except Exception as exc:  # one JSON document, whatever happens
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out, indent=1))
    return 0 if out.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
