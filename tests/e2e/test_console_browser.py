"""The console in a real browser (headless Chromium driven by Playwright): a partner signs in, a
call placed through the carrier simulator appears in the live list without a reload, and its page
plays the recording, with a click on a transcript turn seeking the player there. And "Talk to this
agent": a WebRTC session with Chromium's fake microphone saying a sentence, which the agent's
transcript holds, while the page hears the agent's voice (its offer → first audio time printed)."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from callwright.api.schemas.agents import AgentCreate
from tests.browser_support import chromium_executable
from tests.conftest import TEST_ADMIN_TOKEN
from tests.e2e.helpers import (
    ACCOUNTS,
    after_the_intro,
    finished_call,
    hang_up_after_the_reply,
    make_tenant,
    new_number,
    start_call,
)
from tests.voice.test_whisper_stt import word_error_rate

pytestmark = pytest.mark.e2e

SCRIPT = {"replies": [{"text": "Sure, I have booked you for nine tomorrow morning."}]}
TIMEOUT_MS = 60_000
# Set to a folder to keep a screenshot of each step (for a person reviewing the console).
SHOTS = os.environ.get("CALLWRIGHT_CONSOLE_SCREENSHOTS")


async def _shot(page, name: str, *, full_page: bool = True) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


@asynccontextmanager
async def _chromium_page(*extra_args: str):  # type: ignore[no-untyped-def]
    """A page of Debian's Chromium, and the errors it reports (page errors, console errors,
    HTTP answers of 400 and up)."""
    executable = chromium_executable()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox", *extra_args],
        )
        context = await browser.new_context(viewport={"width": 1366, "height": 768})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("response", lambda response: response.status >= 400 and errors.append(f"{response.status} {response.url}"))
        try:
            yield page, errors
        finally:
            await browser.close()


@pytest.fixture
async def browser_page():  # type: ignore[no-untyped-def]
    async with _chromium_page() as opened:
        yield opened


async def test_a_partner_sees_a_call_live_and_replays_it_from_a_transcript_turn(
    api, carrier_sim, platform_server, browser_page
):
    page, errors = browser_page
    tenant = await make_tenant(api, carrier_sim, ["vobiz"], enable_recording=True, script=SCRIPT)
    api_key = tenant.headers["Authorization"].removeprefix("Bearer ")

    await page.goto(platform_server.base_url + "/")  # redirected to the console
    assert page.url.endswith("/console/")
    await page.get_by_label("Key or token").fill(api_key)
    await page.get_by_label("Key or token").press("Enter")  # the keyboard alone signs in
    await page.get_by_role("heading", name="Calls").wait_for()
    await page.get_by_text("Showing no calls").wait_for()
    await _shot(page, "1-calls-empty")

    number = new_number()
    # The caller lets the intro finish and hangs up once answered (events, not fixed times).
    carrier_sim.set_scenario(number, after_the_intro("I would like to book a table"))
    call_id = await start_call(api, tenant, "vobiz", number)
    sim_call = await carrier_sim.wait_for_call(to=number, carrier="vobiz", timeout=15)
    hung_up = asyncio.create_task(hang_up_after_the_reply(carrier_sim, sim_call))

    # The new call appears, then ends, with no reload: the list polls.
    row = page.locator(f'tr[data-call-id="{call_id}"]')
    await row.wait_for()
    await hung_up
    await row.locator(".badge", has_text="completed").wait_for()
    await _shot(page, "2-calls-live")
    # The call's record is whole (transcript, recording) a moment after the carrier's hang-up.
    stored = await finished_call(api, tenant, call_id)

    await row.get_by_role("link").click()
    await page.get_by_role("heading", name=f"Call to {number}").wait_for()
    audio = page.locator("audio")
    await audio.wait_for()
    # Waits on the media element's own events (the page's CSP forbids wait_for_function's eval).
    duration = await audio.evaluate(
        """a => new Promise(done => {
            if (a.duration > 0) done(a.duration);
            else a.addEventListener('loadedmetadata', () => done(a.duration), { once: true });
        })"""
    )
    assert duration > 5, "the recording holds the whole call"

    played_to = await audio.evaluate(
        """a => new Promise(done => {
            a.addEventListener('timeupdate', function seen() {
                if (a.currentTime > 0.3) { a.removeEventListener('timeupdate', seen); a.pause(); done(a.currentTime); }
            });
            a.play();
        })"""
    )
    assert played_to > 0.3, "the recording plays"
    await _shot(page, "3-call-detail")

    turns = page.locator("button.turn")
    assert await turns.count() >= 2, ("the intro and the caller's line at least", stored["transcript"])
    later = turns.nth(await turns.count() - 1)
    offset = float(await later.get_attribute("data-offset") or "0")
    assert 0 < offset < duration
    await audio.evaluate(
        "a => { window.seeked = new Promise(done => a.addEventListener('seeked', () => done(a.currentTime), { once: true })); }"
    )
    await later.click()
    sought = await page.evaluate("() => window.seeked")
    assert abs(sought - offset) < 0.5, (sought, offset)

    # The trail shows the carrier's callbacks.
    assert await page.get_by_role("table", name="Carrier event trail").locator("tbody tr").count() >= 2

    # Every other section of the partner's view opens (each would report a script error).
    for section, heading in [("Campaigns", "Campaigns"), ("Agents", "Agents"), ("Webhooks", "Webhook endpoints")]:
        await page.get_by_role("link", name=section, exact=True).click()
        await page.get_by_role("heading", name=heading, exact=True).wait_for()
    await page.get_by_role("link", name="Credits & usage", exact=True).click()
    usage = page.get_by_role("table", name="Usage per day and agent")
    await usage.get_by_role("cell", name="E2E agent").wait_for()  # the call just made
    await _shot(page, "4-credits-usage")

    # The operator, signed in with the admin token, finds the same call among every partner's.
    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_label("Operator (admin token)").check()
    await page.get_by_label("Key or token").fill(TEST_ADMIN_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Calls").wait_for()
    operator_row = page.locator(f'tr[data-call-id="{call_id}"]')
    await operator_row.get_by_role("cell", name=tenant.name, exact=True).wait_for()
    await operator_row.get_by_role("link").click()
    await page.get_by_role("heading", name=f"Call to {number}").wait_for()
    await page.locator("audio").wait_for()
    await _shot(page, "5-operator-call")
    await page.get_by_role("link", name="Partners").click()
    await page.get_by_role("link", name=tenant.name).click()
    await page.get_by_role("heading", name=f"Partner {tenant.name}").wait_for()
    await _shot(page, "6-operator-partner")
    assert errors == [], errors


async def test_the_api_docs_render_offline_and_authorize_takes_a_key(platform_server, browser_page):
    page, errors = browser_page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(platform_server.base_url + "/docs")
    await page.get_by_role("button", name="Authorize").click()
    await page.get_by_text("PartnerApiKey").first.wait_for()
    await page.get_by_text("AdminToken").first.wait_for()
    await _shot(page, "7-api-docs-authorize", full_page=False)
    foreign = [url for url in requested if not url.startswith(platform_server.base_url) and not url.startswith("data:")]
    assert foreign == [], "everything the docs load comes from the platform"
    assert errors == [], errors


def _expected_refusals(errors: list[str], paths: tuple[str, ...]) -> list[str]:
    """The page's errors less the 400s the test provoked on purpose (and Chromium's console line for each)."""
    return [
        e
        for e in errors
        if not (e.startswith("400 ") and e.endswith(paths))
        and "the server responded with a status of 400" not in e
    ]


async def test_a_partner_creates_and_edits_an_agent_and_configures_a_carrier(api, carrier_sim, platform_server, browser_page):
    page, errors = browser_page
    created = await api.post(
        "/admin/v1/partners",
        json={"name": f"form-{new_number()[-6:]}", "allowed_telephony_providers": ["vobiz"], "requests_per_minute": 0},
        headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"},
    )
    assert created.status_code == 201, created.text
    api_key = created.json()["data"]["api_key"]
    headers = {"Authorization": f"Bearer {api_key}"}

    await page.goto(platform_server.base_url + "/console/")
    await page.get_by_label("Key or token").fill(api_key)
    await page.get_by_label("Key or token").press("Enter")
    await page.get_by_role("heading", name="Calls").wait_for()
    await page.get_by_role("link", name="Agents", exact=True).click()
    await page.get_by_role("link", name="New agent").click()
    await page.get_by_role("heading", name="New agent").wait_for()

    # Every field of the API's agent is on the form, each with a label.
    schema = AgentCreate.model_json_schema()
    for name in schema["properties"]:
        assert await page.get_by_label(name, exact=False).count() >= 1, name

    await page.get_by_label("agent_name").fill("Form agent")
    await page.get_by_label("intro_message").fill("Hello from the form.")
    await page.get_by_label("max_call_duration_secs").fill("5")  # below the 60 s floor
    await page.get_by_label("agent_type").select_option("inbound")
    await page.get_by_label("max_call_duration_secs").press("Enter")  # the keyboard submits
    slot = page.locator("#f-max_call_duration_secs-error")
    await slot.filter(has_text="max_call_duration_secs").wait_for()
    assert "60" in (await slot.text_content() or "")
    duration = page.get_by_label("max_call_duration_secs")
    assert await duration.get_attribute("aria-invalid") == "true"
    assert await duration.evaluate("el => el === document.activeElement"), "focus goes to the field"
    assert "max_call_duration_secs" in (await page.locator("#agent-form-error").text_content() or "")
    await _shot(page, "10-agent-form-invalid")
    listed = (await api.get("/api/v2/agents", headers=headers)).json()["data"]
    assert listed == [], "nothing was saved"

    await duration.fill("900")
    await page.get_by_role("button", name="Create agent").click()
    await page.get_by_role("heading", name="Edit agent Form agent").wait_for()
    await page.get_by_role("status").filter(has_text="Created Form agent.").wait_for()
    listed = (await api.get("/api/v2/agents", headers=headers)).json()["data"]
    assert [(a["agent_name"], a["max_call_duration_secs"], a["agent_type"], a["intro_message"]) for a in listed] == [
        ("Form agent", 900, "inbound", "Hello from the form.")
    ]
    agent_id = listed[0]["id"]

    # Editing sends the changed fields; the API's value comes back through GET.
    assert await page.get_by_label("max_call_duration_secs").input_value() == "900"
    await page.get_by_label("voicemail_detection_enabled").check()
    await page.get_by_label("variables").fill("name, city")
    await page.get_by_role("button", name="Save changes").click()
    await page.get_by_role("status").filter(has_text="Saved Form agent.").wait_for()
    agent = (await api.get(f"/api/v2/agent/{agent_id}", headers=headers)).json()["data"]
    assert agent["voicemail_detection_enabled"] is True and agent["variables"] == ["name", "city"], agent
    assert agent["max_call_duration_secs"] == 900
    await _shot(page, "11-agent-form-saved")

    # A carrier connection for the simulator's Vobiz: a refused token first, then the right one.
    account, body = ACCOUNTS["vobiz"]
    carrier_sim.add_account("vobiz", **account)
    await page.get_by_role("link", name="Credits & usage", exact=True).click()
    await page.get_by_role("heading", name="Configure a carrier").wait_for()
    await page.get_by_label("Carrier", exact=True).select_option("vobiz")
    await page.get_by_label("auth_id").fill(body["auth_id"])
    await page.get_by_label("auth_token").fill("not-the-token")
    await page.get_by_label("from_number").fill(body["from_number"])
    await page.get_by_role("button", name="Verify and save").click()
    await page.locator("#carrier-form-error").filter(has_text="Vobiz").wait_for()
    assert (await api.get("/api/v2/config", headers=headers)).json()["data"]["telephony"]["vobiz"]["configured"] is False

    await page.get_by_label("auth_token").fill(body["auth_token"])
    await page.get_by_role("button", name="Verify and save").click()
    await page.locator("#carrier-form-status").filter(has_text="Vobiz").wait_for()
    row = page.locator('tr[data-provider="vobiz"]')
    await row.get_by_role("cell", name="configured", exact=True).wait_for()
    shown = await row.text_content() or ""
    assert body["from_number"] in shown and body["auth_id"] not in shown and "****" in shown, shown
    await page.get_by_role("table", name="Named connections").get_by_role("cell", name="verified", exact=True).wait_for()
    for label in ("auth_id", "auth_token", "from_number"):
        assert await page.get_by_label(label).input_value() == "", "the form keeps nothing typed"
    assert await page.get_by_label("auth_token").get_attribute("type") == "password"
    html = await page.content()
    assert body["auth_token"] not in html and "not-the-token" not in html and body["auth_id"] not in html
    await _shot(page, "12-carrier-configured")
    assert _expected_refusals(errors, ("/api/v2/agent", "/api/v2/config/telephony/vobiz")) == [], errors


TALK_SENTENCE = "I would like to book a table for two"
TALK_INTRO = "Hello, this is the front desk."
TALK_REPLY = "Sure, I can book that for you."


async def test_overlapping_navigations_leave_only_the_latest_page(api, carrier_sim, platform_server, browser_page):
    """Two renders overlap when a slow answer comes back after the partner moved on (signing in
    routes while a click changes the hash, on a busy machine): the agents list asked first is held
    until the same list, asked again, is drawn. Only the latest render stays: one agents table."""
    page, errors = browser_page
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    api_key = tenant.headers["Authorization"].removeprefix("Bearer ")
    held: list[object] = []
    release = asyncio.Event()

    async def hold_the_first_list(route) -> None:  # type: ignore[no-untyped-def]
        if not held:
            held.append(route)
            await release.wait()
        await route.continue_()

    await page.goto(platform_server.base_url + "/console/")
    await page.get_by_label("Key or token").fill(api_key)
    await page.get_by_label("Key or token").press("Enter")
    await page.get_by_role("heading", name="Calls").wait_for()
    await page.route("**/api/v2/agents?limit=100", hold_the_first_list)
    await page.get_by_role("link", name="Agents", exact=True).click()  # its list is held
    async with asyncio.timeout(30):  # hang guard
        while not held:
            await asyncio.sleep(0.05)
    await page.evaluate("location.hash = '#/calls'")
    await page.get_by_role("heading", name="Calls").wait_for()
    await page.evaluate("location.hash = '#/agents'")  # asked again, answered at once
    await page.get_by_role("link", name="E2E agent", exact=True).wait_for()
    async with page.expect_response("**/api/v2/agents?limit=100") as late:
        release.set()  # the first answer now comes back, late
    await (await late.value).finished()
    # Tasks the page queued before this timer (the late answer's body, then its render) run first.
    await page.evaluate("new Promise((done) => setTimeout(done, 200))")
    assert await page.get_by_role("heading", name="Agents").count() == 1
    assert await page.get_by_role("link", name="E2E agent", exact=True).count() == 1
    assert errors == [], errors


async def test_a_section_opened_while_the_key_is_checked_is_not_drawn_again(
    api, carrier_sim, platform_server, browser_page
):
    """Signing in checks the key once more after the menu is drawn. A section the partner opened
    meanwhile was drawn again when the check came back: on a busy machine their next click, on
    the first drawing, hit nothing (the agent's page never opened). The late check draws nothing."""
    page, errors = browser_page
    tenant = await make_tenant(api, carrier_sim, ["vobiz"])
    api_key = tenant.headers["Authorization"].removeprefix("Bearer ")
    checks: list[object] = []
    release = asyncio.Event()

    async def hold_the_second_check(route) -> None:  # type: ignore[no-untyped-def]
        checks.append(route)
        if len(checks) == 2:  # the form's check passes; the one after the menu is drawn waits
            await release.wait()
        await route.continue_()

    await page.route("**/api/v2/config", hold_the_second_check)
    await page.goto(platform_server.base_url + "/console/")
    await page.get_by_label("Key or token").fill(api_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Agents", exact=True).click()
    link = page.get_by_role("link", name="E2E agent", exact=True)
    await link.evaluate("(node) => { node.dataset.drawing = 'first'; }")
    async with asyncio.timeout(30):  # hang guard
        while len(checks) < 2:
            await asyncio.sleep(0.05)
    async with page.expect_response("**/api/v2/config") as late:
        release.set()
    await (await late.value).finished()
    # Tasks the page queued before this timer (the late answer's body, then any render) run first.
    await page.evaluate("new Promise((done) => setTimeout(done, 200))")
    assert await page.locator("a[data-drawing='first']").count() == 1, "the agents list was drawn again"
    await link.click()
    await page.get_by_role("heading", name="Agent E2E agent").wait_for()
    assert errors == [], errors


@pytest.fixture
async def talking_page(tmp_path):  # type: ignore[no-untyped-def]
    """Chromium whose fake microphone says ``TALK_SENTENCE`` after 4 s of quiet (after the agent's
    intro), then is quiet for 30 s (the reply: on a loaded box, Whisper and Piper take seconds), and
    again: Chromium loops the file. With 10 s, the sentence came again before the reply and cut it
    off, turn after turn."""
    from tests.webrtc_support import spoken_sentence, write_wav

    wav = write_wav(tmp_path / "caller.wav", spoken_sentence(TALK_SENTENCE, lead_secs=4.0, tail_secs=30.0))
    async with _chromium_page(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ) as opened:
        yield opened


async def test_a_partner_talks_to_an_agent_from_the_browser_over_webrtc(api, carrier_sim, platform_server, talking_page):
    page, errors = talking_page
    tenant = await make_tenant(
        api, carrier_sim, ["vobiz"], intro_message=TALK_INTRO, script={"replies": [{"text": TALK_REPLY}]}
    )
    api_key = tenant.headers["Authorization"].removeprefix("Bearer ")

    await page.goto(platform_server.base_url + "/console/")
    await page.get_by_label("Key or token").fill(api_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Agents", exact=True).click()
    await page.get_by_role("link", name="E2E agent", exact=True).click()
    await page.get_by_role("heading", name="Agent E2E agent").wait_for()
    await page.get_by_role("button", name="Talk to this agent").click()

    # The agent's intro arrives as audible audio (Web Audio's analyser in the page measures it).
    status = page.locator("#talk-status[data-first-audio-ms]")
    await status.wait_for()
    first_audio_ms = int(await status.get_attribute("data-first-audio-ms") or "-1")
    print(f"\noffer → first agent audio in Chromium: {first_audio_ms} ms")
    assert first_audio_ms > 0
    peak = float(await page.locator("meter").get_attribute("data-peak") or "0")
    assert peak > 0.01, "the agent's voice is not silence"
    session_id = await page.locator("#talk-status").get_attribute("data-session-id")

    # The fake microphone's sentence reaches the agent's transcript (offline STT), live.
    transcript = page.get_by_role("list", name="Transcript")
    await transcript.locator(".turn.user").first.wait_for()
    await transcript.locator(".turn.bot").nth(1).wait_for()  # the agent answered
    await _shot(page, "8-talk-to-agent")
    await page.get_by_role("button", name="End").click()
    await page.get_by_role("heading", name="Last session").wait_for()

    session = (await api.get(f"/api/v2/sessions/{session_id}", headers=tenant.headers)).json()["data"]
    assert session["type"] == "webrtc" and session["status"] == "completed", session
    said = [(t["role"], t["content"]) for t in session["transcript"]]
    assert said[0] == ("bot", TALK_INTRO), said
    # Whisper may hear "the table" for "a table": the sentence within a 30 % word error rate.
    assert any(role == "user" and word_error_rate(TALK_SENTENCE, line) <= 0.3 for role, line in said), said
    assert ("bot", TALK_REPLY) in said
    await _shot(page, "9-talk-ended")
    assert errors == [], errors
