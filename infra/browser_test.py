#!/usr/bin/env python3
"""The agent workspace (spec §14) in a real headless browser: Chromium driven by Selenium.

Runs against a local stack (handoff-local) that serves the web app at `/`; `bash infra/browser.sh`
starts one and runs this. The flow: an admin signs in and saves the settings (and sees a field
error next to an invalid value); an agent in a second browser watches the Inbox; the AI runtime
escalates (over HTTP, as it would); the handoff appears in the agent's Inbox without a reload and
raises an alert; the agent accepts, reads the transcript, replies (the reply is published as an
`agent_message`), resolves; a lost race (someone else accepted first) is explained. Then the Teams and
Metrics pages (or their "not available yet" message when the stack has no such routes).

    python3 infra/browser_test.py --url http://127.0.0.1:8787 [--screenshots] [--headed]

Prints each step with PASS/FAIL and a closing "N passed, N failed" line; exits non-zero on a failure,
after saving screenshots of every open browser to a temporary directory (their paths are printed).
With --screenshots it also saves a picture of every page to docs/screenshots/.
"""

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKSPACE = "ws_demo"
WAIT = 10  # seconds for ordinary page updates


class Api:
    """The HTTP API, as the AI runtime and other teammates use it (urllib only)."""

    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, token=None, body=None, headers=None):
        url = self.base + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def token(self, user, role):
        status, body = self.call("POST", "/local/sign-in", body={"workspace_id": WORKSPACE, "user_id": user, "role": role})
        assert status == 200, f"local sign-in as {user}/{role}: {status} {body}"
        return body["token"]

    def ws(self, method, path, token, body=None):
        return self.call(method, f"/v1/workspaces/{WORKSPACE}{path}", token, body)

    def escalate(self, ai_token, conversation, **fields):
        body = {"event_id": f"evt-{uuid.uuid4().hex[:12]}", "channel": "chat", "reason": "refund_request", **fields}
        status, res = self.ws("POST", f"/conversations/{conversation}/escalations", ai_token, body)
        assert status == 200, f"escalation: {status} {res}"
        return res


def browser(width, height, headed=False):
    opts = webdriver.ChromeOptions()
    if not headed:
        opts.add_argument("--headless=new")
    for arg in ("--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                "--disable-search-engine-choice-screen", f"--window-size={width},{height}", "--lang=en-US"):
        opts.add_argument(arg)
    binary = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        opts.binary_location = binary
    driver_path = os.environ.get("CHROMEDRIVER_BIN") or shutil.which("chromedriver")
    if not driver_path:
        raise SystemExit("chromedriver not found: install chromium-driver (bash infra/browser.sh does)")
    d = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    # The page's viewport exactly (headless windows have no browser chrome, but be sure).
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    return d


def full_page_png(driver, path):
    """A picture of the whole page: the viewport is made as tall as the page for the moment."""
    w, h = driver.execute_script("window.scrollTo(0, 0); return [window.innerWidth, window.innerHeight]")
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, window.innerHeight)")
    mobile = w < 600
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
    try:
        time.sleep(0.2)
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})


class Page:
    """A signed-in (or not) browser window on the web app."""

    def __init__(self, name, driver, url):
        self.name, self.d, self.url = name, driver, url.rstrip("/")

    def go(self, hash_route):
        self.d.get(f"{self.url}/{hash_route}")

    def wait(self, cond, timeout=WAIT, what="a condition"):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: cond())
        except TimeoutException:
            raise AssertionError(f"[{self.name}] timed out after {timeout}s waiting for {what}") from None

    def find(self, css, timeout=WAIT):
        return self.wait(lambda: self.first(css), timeout, f"element {css!r}")

    def first(self, css):
        try:
            els = self.d.find_elements(By.CSS_SELECTOR, css)
            return next((e for e in els if e.is_displayed()), None)
        except StaleElementReferenceException:  # the page re-rendered meanwhile
            return None

    def text(self, css):
        try:
            el = self.first(css)
            return el.text if el else ""
        except StaleElementReferenceException:
            return ""

    def wait_text(self, css, needle, timeout=WAIT):
        return self.wait(lambda: needle in self.text(css), timeout, f"{needle!r} in {css!r} (now {self.text(css)!r})")

    def button(self, label, root="body", timeout=WAIT):
        def hit():
            for b in self.d.find_elements(By.CSS_SELECTOR, f"{root} button"):
                if b.is_displayed() and b.is_enabled() and b.text.strip() == label:
                    return b
            return None
        return self.wait(hit, timeout, f"button {label!r}")

    def click(self, label, root="body"):
        """Clicks the button, again if the page re-rendered it just before (a live refresh)."""
        for _ in range(5):
            try:
                self.button(label, root).click()
                return
            except StaleElementReferenceException:
                time.sleep(0.1)
        raise AssertionError(f"[{self.name}] the button {label!r} kept being replaced")

    def fill(self, css, value):
        el = self.find(css)
        el.clear()
        el.send_keys(value)
        return el

    def sign_in(self, user, role):
        self.go("#/sign-in")
        self.fill("input[name=user_id]", user)
        self.find(f"input[name=role][value={role}]").click()
        self.click("Sign in")
        self.wait_text("#who-user", user)
        self.wait_text("#who-role", role)


class Run:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def step(self, name, fn):
        t = time.monotonic()
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the run stops
            self.failed += 1
            print(f"[FAIL] {name}: {e}")
            if not isinstance(e, AssertionError):
                traceback.print_exc()
            raise
        self.passed += 1
        print(f"[PASS] {name}{': ' + detail if detail else ''} ({time.monotonic() - t:.1f}s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="where the local stack serves the web app and the API")
    ap.add_argument("--screenshots", nargs="?", const=os.path.join(ROOT, "docs", "screenshots"), default=None,
                    help="save a picture of each page here (default docs/screenshots)")
    ap.add_argument("--headed", action="store_true", help="show the browsers")
    args = ap.parse_args()

    api = Api(args.url)
    run = Run()
    pages = []
    shots = args.screenshots
    if shots:
        os.makedirs(shots, exist_ok=True)

    def shot(page, name, alerts=False):
        if shots:
            if not alerts:  # new-handoff alerts belong in the Inbox picture only
                page.d.execute_script("document.getElementById('alerts').replaceChildren()")
            time.sleep(0.3)  # let fonts and transitions settle
            full_page_png(page.d, os.path.join(shots, f"{name}.png"))

    def open_page(name, w=1280, h=800):
        p = Page(name, browser(w, h, args.headed), args.url)
        pages.append(p)
        return p

    tag = uuid.uuid4().hex[:6]
    ai = api.token("ai-runtime", "ai")
    carol = api.token("carol", "agent")
    admin_token = api.token("alice", "admin")
    state = {}

    try:
        admin = open_page("admin")

        def sign_in_page():
            admin.go("#/sign-in")
            admin.find("input[name=user_id]")
            assert admin.first("#topbar") is None, "the header shows before sign-in"
            shot(admin, "sign-in")
            # The API's 422 on the sign-in form is shown next to its field.
            admin.fill("input[name=user_id]", "al ice")
            admin.click("Sign in")
            admin.wait_text("[data-field=user_id] ~ .field-error, .has-error .field-error", "whitespace")
            return "the local form; a bad user id is marked by the API's problem"
        run.step("the sign-in page", sign_in_page)

        run.step("sign in as an admin", lambda: admin.sign_in("alice", "admin") or "alice, admin, ws_demo in the header")

        def settings_save():
            admin.go("#/settings")
            toggle = admin.find("#s-enabled")
            if not toggle.is_selected():
                toggle.click()
            state["confirmation"] = f"Thanks for waiting! A teammate joins you here in a moment. ({tag})"
            admin.fill("#s-confirmation_message", state["confirmation"])
            admin.fill("#s-stalling_time_seconds", "120")
            admin.click("Save settings")
            admin.wait_text(".msg .notice-ok", "Saved")
            status, doc = api.ws("GET", "/handoff-settings", admin_token)
            assert status == 200 and doc["enabled"] is True and doc["confirmation_message"] == state["confirmation"], doc
            shot(admin, "settings")
            return f"Human Handoff on, new confirmation message saved (version {doc['version']})"
        run.step("Settings: turn Human Handoff on, change the confirmation message, save", settings_save)

        def settings_invalid():
            admin.fill("#s-stalling_time_seconds", "5")
            admin.click("Save settings")
            err = admin.find("#s-stalling_time_seconds ~ .field-error")
            assert "10" in err.text and "86400" in err.text, err.text
            assert admin.find("#s-stalling_time_seconds").get_attribute("aria-invalid") == "true"
            admin.wait_text(".notice-error", "Not saved")
            status, doc = api.ws("GET", "/handoff-settings", admin_token)
            assert doc["stalling_time_seconds"] == 120, "an invalid save changed the settings"
            return f"next to the field: {err.text!r}"
        run.step("Settings: an invalid stalling time (5) is marked next to its field", settings_invalid)

        agent = open_page("agent")

        def agent_inbox():
            agent.sign_in("bob", "agent")
            for a in agent.d.find_elements(By.CSS_SELECTOR, "[data-admin]"):
                assert not a.is_displayed(), f"an agent sees the admin link {a.text!r}"
            agent.go("#/inbox")
            agent.wait_text(".live-status", "Live")
            return "Inbox open, live; Settings, Teams and Metrics are hidden for agents"
        run.step("a second browser: sign in as an agent and open the Inbox", agent_inbox)

        # Some traffic so the Inbox is not empty (a voice call, other reasons and priorities).
        seed = [("Grace Hopper", "billing_issue", "normal", "chat", "Charged twice for the November invoice."),
                ("Alan Turing", "account_access", "urgent", "voice", "Locked out after a password reset; needs access today."),
                ("Katherine Johnson", "delivery_problem", "low", "chat", "Parcel marked delivered but not received.")]
        for name, reason, prio, channel, summary in seed:
            api.escalate(ai, f"seed-{tag}-{reason}", reason=reason, priority=prio, channel=channel, summary=summary,
                         customer={"name": name, "email": f"{name.split()[0].lower()}@example.com"})
        time.sleep(2 * 1.5 + 0.5)  # let the agent's Inbox take them in (they are not the new one)
        for a in agent.d.find_elements(By.CSS_SELECTOR, "#alerts [role=alert] button"):
            a.click()  # start from no alerts

        def escalate_and_see():
            conv = f"conv-{tag}"
            res = api.escalate(ai, conv, reason="refund_request", priority="high",
                               summary="Wants a refund for order 1234: the blender arrived broken.",
                               customer={"id": "c_77", "name": "Ada Lovelace", "email": "ada@example.com"},
                               transcript=[
                                   {"author": "customer", "text": "My blender arrived broken. I want my money back.", "sent_at": "2026-11-25T10:00:00Z"},
                                   {"author": "ai", "text": "I'm sorry! Let me bring in a teammate who can issue refunds.", "sent_at": "2026-11-25T10:00:05Z"},
                               ])
            assert res["outcome"] == "queued", res
            hid = res["handoff"]["handoff_id"]
            state["hid"] = hid
            t0 = time.monotonic()
            agent.find(f'table.inbox a[data-row="{hid}"]', timeout=5)
            seen = time.monotonic() - t0
            alert = agent.wait(lambda: next((e for e in agent.d.find_elements(By.CSS_SELECTOR, "#alerts [role=alert]")
                                             if "Ada Lovelace" in e.text), None), 5, "the new-handoff alert")
            assert "New handoff waiting" in alert.text, alert.text
            shot(agent, "inbox", alerts=True)
            return f"{hid} in the open Inbox after {seen:.1f}s, alert: {alert.text.splitlines()[0]!r}"
        run.step("the AI runtime escalates: the handoff appears in the agent's Inbox without a reload, with an alert",
                 escalate_and_see)

        def accept_and_read():
            hid = state["hid"]
            agent.find(f'table.inbox a[data-row="{hid}"]').click()
            agent.wait_text(".handoff-head h1", "Ada Lovelace")
            agent.wait_text(".summary-text", "blender arrived broken")
            agent.click("Accept")
            agent.wait_text("#handoff-state", "Assigned")
            agent.wait_text(".msg .notice-ok", "accepted")
            agent.wait_text(".transcript", state["confirmation"])
            t = agent.text(".transcript")
            assert "My blender arrived broken" in t and "Let me bring in a teammate" in t, t
            return "accepted; the escalation's transcript and the new confirmation message are in the transcript"
        run.step("the agent opens it, accepts and reads the transcript", accept_and_read)

        def reply():
            hid = state["hid"]
            # A customer message arrives while the agent reads; it shows without a reload.
            status, res = api.ws("POST", f"/conversations/conv-{tag}/messages", ai,
                                 {"message_id": f"m-{tag}", "text": "Hello? Is someone there?", "sent_at": "2026-11-25T10:01:00Z"})
            assert status == 200, res
            agent.wait_text(".transcript", "Is someone there?", timeout=5)
            text = f"Hi Ada, I'm sorry about the blender. I've started your refund for order 1234. ({tag})"
            agent.fill("#reply-text", text)
            agent.click("Send reply")
            agent.wait_text(".transcript .line-agent", text)
            agent.fill("#note-text", "Refund approved under the damaged-on-arrival policy.")
            agent.click("Add note")
            agent.wait_text(".transcript .line-note", "damaged-on-arrival")
            status, events = api.ws("GET", "/local/outbound-events", ai)
            assert status == 200, events
            sent = [e for e in events["items"] if e["type"] == "agent_message" and e.get("handoff_id") == hid]
            assert any(e["text"] == text and e.get("agent_id") == "bob" for e in sent), sent
            notes = [e for e in events["items"] if e.get("handoff_id") == hid and "damaged-on-arrival" in (e.get("text") or "")]
            assert not notes, f"a note was published: {notes}"
            shot(agent, "handoff")
            return "the reply was published as agent_message (agent_id bob); the note was not published"
        run.step("the agent replies (agent_message published) and adds a note", reply)

        def resolve():
            agent.click("Resolve")
            agent.wait_text("#handoff-state", "Resolved")
            assert agent.first("[data-action=Accept]") is None and agent.first("#reply-text") is None
            status, h = api.ws("GET", f"/handoffs/{state['hid']}", carol)
            assert status == 200 and h["state"] == "resolved", h
            return "state resolved; no actions or reply box offered any more"
        run.step("the agent resolves it", resolve)

        def lost_race():
            for attempt in range(1, 4):
                conv = f"race-{tag}-{attempt}"
                hid = api.escalate(ai, conv, reason="customer_request", summary="Asked for a person.",
                                   customer={"name": "Edsger Dijkstra"})["handoff"]["handoff_id"]
                agent.go(f"#/handoffs/{hid}")
                accept = agent.button("Accept")
                # Act right after the page's own refresh (when it polls), so it hardly can refresh in between.
                before = agent.d.execute_script("return document.getElementById('app').dataset.refreshedAt")
                try:
                    agent.wait(lambda: agent.d.execute_script("return document.getElementById('app').dataset.refreshedAt") != before,
                               2.5, "the page's live refresh")
                except AssertionError:
                    pass  # with a changes feed the page reads the handoff only when it changes
                status, res = api.ws("POST", f"/handoffs/{hid}/accept", carol, {})
                assert status == 200, res
                try:
                    accept.click()
                except StaleElementReferenceException:
                    continue  # the page refreshed first and no longer offers Accept: try again
                msg = agent.wait_text(".msg .notice-warn", "carol") and agent.text(".msg .notice-warn")
                assert "Someone else got there first" in msg, msg
                agent.wait_text("#handoff-state", "Assigned")
                return f"shown: {msg!r}"
            raise AssertionError("the page kept refreshing before the click; no race was lost")
        run.step("a lost race (another agent accepted first) is explained", lost_race)

        def mobile_inbox():
            phone = open_page("phone", 390, 844)
            phone.sign_in("bob", "agent")
            phone.go("#/inbox")
            phone.find("table.inbox a[data-row]")
            width = phone.d.execute_script("return document.documentElement.scrollWidth")
            assert width <= 390, f"the Inbox is {width}px wide at 390px"
            shot(phone, "inbox-390")
            return "no sideways scrolling at 390 px"
        run.step("the Inbox at 390 px wide", mobile_inbox)

        def agent_blocked():
            agent.go("#/settings")
            agent.wait_text("main", "for workspace admins")
            return "an agent who opens #/settings is told it is for admins"
        run.step("admin pages are not offered to agents", agent_blocked)

        def teams():
            admin.go("#/teams")
            status, doc = api.ws("GET", "/teams", admin_token)
            assert status == 200, doc
            admin.click("+ Add a team")
            i = len(doc.get("teams", []))
            admin.fill(f'[data-field="teams[{i}].team_id"]', f"billing-{tag}")
            admin.fill(f'[data-field="teams[{i}].name"]', "Billing")
            admin.fill(f'[data-field="teams[{i}].members"]', "bob\ncarol")
            admin.click("Save teams")
            admin.wait_text(".msg .notice-ok", "Saved")
            status, after = api.ws("GET", "/teams", admin_token)
            assert any(t["team_id"] == f"billing-{tag}" and t["members"] == ["bob", "carol"] for t in after["teams"]), after
            shot(admin, "teams")
            return f"a team added and saved (version {after['version']})"
        run.step("Teams (admin)", teams)

        def metrics():
            admin.go("#/metrics")
            admin.button("Show")
            status, _ = api.ws("GET", "/metrics?from=2026-01-01&to=2026-01-02&group_by=reason", admin_token)
            assert status == 200, status
            admin.wait(lambda: admin.first("table.metrics"), WAIT, "the metrics table")
            # This run's handoffs (refund requests, one resolved) are in the table.
            admin.wait_text("table.metrics", "Refund request")
            shot(admin, "metrics")
            return "the table shows this run's refund requests"
        run.step("Metrics (admin)", metrics)
    except Exception:  # noqa: BLE001 - reported by Run.step; save what the browsers show
        out = tempfile.mkdtemp(prefix="handoff-browser-")
        for p in pages:
            path = os.path.join(out, f"{p.name}.png")
            try:
                p.d.save_screenshot(path)
                print(f"screenshot of the {p.name} browser at the failure: {path}  (page {p.d.current_url})")
            except Exception as e:  # noqa: BLE001
                print(f"no screenshot of the {p.name} browser: {e}")
    finally:
        for p in pages:
            try:
                # Answers the page expects (a 404 from a route this stack lacks yet) are not errors.
                logs = [l for l in p.d.get_log("browser")
                        if l.get("level") == "SEVERE" and "Failed to load resource" not in l.get("message", "")]
                for l in logs:
                    print(f"  {p.name} console: {l.get('message')}")
            except Exception:  # noqa: BLE001 - not every driver keeps logs
                pass
            p.d.quit()
    print(f"{run.passed} passed, {run.failed} failed")
    if shots and not run.failed:
        print(f"screenshots in {shots}")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
