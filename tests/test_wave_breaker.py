"""The deliverability breaker: a wave pauses on the hard bounces and spam reports SendGrid
reports through the collector while it sends, claims nothing more, and goes on when a
person resumes it."""

from __future__ import annotations

import base64
import json
import mailbox
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from cxops.channels import make_channel
from cxops.collect import create_app
from cxops.collect.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from cxops.gates import breaker
from cxops.gates.base import SEND, Candidate, Hold, Moment
from cxops.gates.breaker import BreakerGate, Limits, judge
from cxops.messages.render import InvitationRenderer
from cxops.spec import find_survey
from cxops.store import claims
from cxops.store.db import open_store
from cxops.store.events import DeliveryFigures, wave_delivery_figures
from cxops.store.models import Send
from cxops.store.waves import get_wave
from cxops.wave.ids import WaveContext
from cxops.wave.pause import WavePaused, resume
from cxops.wave.prepare import prepare_wave
from cxops.wave.send import send_one_batch

WAVE = "w1"
LIMITS = Limits(bounce_rate=0.05, complaint_rate=0.001, min_delivered=200)


# -- the rule, pure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("figures", "tripped"),
    [
        # below the minimum of messages with an outcome: never judged, however bad
        (DeliveryFigures(delivered=150, hard_bounced=49), None),
        (DeliveryFigures(delivered=0, hard_bounced=199), None),
        # 200 with an outcome, 10 % hard bounces
        (DeliveryFigures(delivered=180, hard_bounced=20), "bounce rate"),
        # every message bouncing trips it once there are enough of them
        (DeliveryFigures(delivered=0, hard_bounced=200), "bounce rate"),
        # exactly 5 % does not pass 5 %
        (DeliveryFigures(delivered=190, hard_bounced=10), None),
        # blocks, deferrals and drops are not hard bounces (SendGrid: temporary or unsent)
        (DeliveryFigures(delivered=200, blocked=150, deferred=400, dropped=90), None),
        # complaints: of delivered; 1 of 1,000 is 0.1 %, not over it; 2 are
        (DeliveryFigures(delivered=1000, spam_reports=1), None),
        (DeliveryFigures(delivered=1000, spam_reports=2), "complaint rate"),
        # complaints need the minimum of delivered messages
        (DeliveryFigures(delivered=199, spam_reports=50), None),
    ],
)
def test_the_breaker_trips_past_a_rate_once_enough_messages_have_an_outcome(figures, tripped):
    found = judge(figures, LIMITS)
    assert (found.name if found else None) == tripped


# -- through the collector, during a wave ----------------------------------------------


@pytest.fixture(scope="module")
def private_key():
    return ec.generate_private_key(ec.SECP256R1())


def _public_key(private_key) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture(autouse=True)
def every_look_reads(monkeypatch):
    """Each batch reads the figures again (a wave reads them every few seconds)."""
    monkeypatch.setattr(breaker, "LOOK_EVERY_SECONDS", 0.0)


class Wave:
    """A 300-person wave of nps-quarterly sent in batches of 100 into the outbox, and the
    real collector app taking SendGrid's signed events."""

    def __init__(self, project, store_url, private_key, **settings):
        self.settings = project.settings(
            database_url=store_url,
            batch_size=100,
            sendgrid_webhook_public_key=_public_key(private_key),
            **settings,
        )
        self.private_key = private_key
        self.store = open_store(store_url)
        self.survey = find_survey("nps-quarterly", project.root / "surveys", project.root)
        self.context = WaveContext.begin(self.survey, self.settings, WAVE)
        assert prepare_wave(self.store, self.context).sampled == 300
        self.renderer = InvitationRenderer(self.survey, self.settings, wave_id=WAVE)
        self.channel = make_channel(self.settings)
        self.claim_id = claims.new_claim_id()
        self.collector = create_app(self.settings, store=self.store)
        self.events_posted = 0

    def later(self, minutes: int) -> None:
        """The clock moved on (the project's clock is fixed by CXOPS_NOW)."""
        from datetime import timedelta

        now = self.settings.clock() + timedelta(minutes=minutes)
        self.settings = self.settings.model_copy(update={"now": now})
        self.context = WaveContext.begin(self.survey, self.settings, WAVE)
        self.collector = create_app(self.settings, store=self.store)

    def send_batch(self):
        return send_one_batch(self.store, self.context, self.channel, self.renderer, self.claim_id)

    def sent(self) -> list[Send]:
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(Send)
                    .where(Send.wave_id == WAVE, Send.status == "sent")
                    .order_by(Send.id)
                )
            )

    def rows(self, status: str) -> list[Send]:
        with self.store.session() as session:
            return list(
                session.scalars(select(Send).where(Send.wave_id == WAVE, Send.status == status))
            )

    def post(self, events: list[dict]) -> dict:
        """Signed as SendGrid signs (ECDSA over timestamp + body), through the real app."""
        from cxops.testing.collect import client_for

        body = json.dumps(events).encode()
        timestamp = int(self.settings.clock().timestamp())
        signature = self.private_key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
        headers = {
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: str(timestamp),
            "Content-Type": "application/json",
        }
        reply = client_for(self.collector).post("/webhooks/sendgrid", content=body, headers=headers)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def events(self, sends: list[Send], name: str, **fields) -> list[dict]:
        made = []
        for send in sends:
            self.events_posted += 1
            made.append(
                {
                    "event": name,
                    "email": send.email,
                    "timestamp": int(self.settings.clock().timestamp()),
                    "sg_event_id": f"ev{self.events_posted}",
                    "send_id": send.send_id,
                    **fields,
                }
            )
        return made

    def close(self) -> None:
        self.channel.close()
        self.store.dispose()


@pytest.fixture
def make_wave(project, store_url, private_key):
    made: list[Wave] = []

    def make(**settings) -> Wave:
        made.append(Wave(project, store_url, private_key, **settings))
        return made[-1]

    yield make
    for wave in made:
        wave.close()


def _outbox(settings) -> list:
    root = Path(settings.outbox_path)
    return [m for path in sorted(root.rglob("*.mbox")) for m in mailbox.mbox(path)]


def test_hard_bounces_arriving_mid_wave_pause_it_and_leave_the_rest_pending(make_wave):
    wave = make_wave(breaker_min_delivered=50)
    assert wave.send_batch().sent == 100
    first = wave.sent()
    # SendGrid reports: 88 delivered, 7 hard bounces, 5 blocked (temporary), 20 deferrals
    events = (
        wave.events(first[:88], "delivered")
        + wave.events(first[88:95], "bounce", type="bounce", reason="550 5.1.1 unknown user")
        + wave.events(first[95:], "bounce", type="blocked", reason="421 try later")
        + wave.events(first[:20], "deferred", response="451 busy")
    )
    assert wave.post(events)["received"] == len(events)

    with pytest.raises(WavePaused) as paused:
        wave.send_batch()
    line = str(paused.value)
    assert "paused by the deliverability breaker" in line
    assert "bounce rate 7.37% (7 hard bounces of 95 delivered or hard-bounced; limit 5%)" in line
    assert "100 of 300 sent, 200 pending" in line
    assert f"cxops run nps-quarterly --wave {WAVE} --resume" in line

    stored = get_wave(wave.store, "nps-quarterly", WAVE)
    assert stored.paused_at is not None and stored.pause_reason == "bounce rate"
    figures = stored.pause_figures
    assert (figures["delivered"], figures["hard_bounced"], figures["blocked"]) == (88, 7, 5)
    assert figures["deferred"] == 20 and figures["tripped"] == "bounce rate"
    # nothing more claimed; the pending rows untouched
    pending = wave.rows("pending")
    assert len(pending) == 200
    assert all(r.claim_id is None and r.not_before is None and r.held is None for r in pending)
    assert len(_outbox(wave.settings)) == 100
    # still paused on the next try, and the pause keeps its first figures
    with pytest.raises(WavePaused):
        wave.send_batch()
    assert get_wave(wave.store, "nps-quarterly", WAVE).paused_at == stored.paused_at
    # the gate's own answers: the wave is held, a person is not
    gate = BreakerGate.of(wave.store, "nps-quarterly", WAVE, wave.settings)
    assert gate.for_segment("enterprise", wave.settings.clock()) == Hold(
        breaker.PAUSED_UNTIL, "breaker"
    )
    candidate = Candidate("c", "c@example.com", "enterprise", 0, {})
    assert gate.for_contact(candidate, Moment.CLAIM, wave.settings.clock()) == SEND


def test_spam_reports_arriving_mid_wave_pause_it(make_wave):
    wave = make_wave(breaker_min_delivered=100)
    wave.send_batch()
    first = wave.sent()
    wave.post(wave.events(first, "delivered") + wave.events(first[:1], "spamreport"))
    with pytest.raises(WavePaused, match=r"complaint rate 1% \(1 spam reports of 100 delivered"):
        wave.send_batch()
    assert get_wave(wave.store, "nps-quarterly", WAVE).pause_reason == "complaint rate"


def test_below_the_minimum_of_delivered_it_does_not_trip(make_wave):
    wave = make_wave()  # the default: 200
    wave.send_batch()
    first = wave.sent()
    # 20 % hard bounces, 10 % complaints, but only 100 messages with an outcome
    wave.post(
        wave.events(first[:80], "delivered")
        + wave.events(first[80:], "bounce", type="bounce")
        + wave.events(first[:8], "spamreport")
    )
    assert wave.send_batch().sent == 100
    assert get_wave(wave.store, "nps-quarterly", WAVE).paused_at is None


def test_events_of_other_waves_and_of_unknown_messages_do_not_count(make_wave):
    wave = make_wave(breaker_min_delivered=10)
    wave.send_batch()
    first = wave.sent()
    wave.post(wave.events(first[:50], "delivered"))
    # an event about an address the ledger never mailed matches no send
    stray = wave.events(first[50:60], "bounce", type="bounce")
    for event in stray:
        event["send_id"], event["email"] = "nosuchsend", "stranger@example.com"
    assert wave.post(stray)["ignored"] == 10
    figures = wave_delivery_figures(
        wave.store, "nps-quarterly", WAVE, received_since=wave.context.now - breaker.CLOCK_MARGIN
    )
    assert figures == DeliveryFigures(delivered=50)
    other = wave_delivery_figures(
        wave.store, "nps-quarterly", "w2", received_since=wave.context.now - breaker.CLOCK_MARGIN
    )
    assert other == DeliveryFigures()
    assert wave.send_batch().sent == 100


def test_resume_sends_the_rest_once_and_judges_only_messages_sent_after_it(make_wave, monkeypatch):
    wave = make_wave(breaker_min_delivered=50)
    wave.send_batch()
    first = wave.sent()
    wave.post(
        wave.events(first[:80], "delivered") + wave.events(first[80:], "bounce", type="bounce")
    )
    with pytest.raises(WavePaused):
        wave.send_batch()

    wave.later(30)
    note = resume(wave.store, "nps-quarterly", WAVE, wave.settings.clock())
    assert "resumed" in note and "sent from here" in note
    stored = get_wave(wave.store, "nps-quarterly", WAVE)
    assert stored.paused_at is None and stored.resumed_at is not None
    assert stored.pause_reason == "bounce rate"  # the last pause stays on record
    # the same figures do not trip it again: the next batch goes
    wave.later(1)
    assert wave.send_batch().sent == 100
    second = [s for s in wave.sent() if s.send_id not in {f.send_id for f in first}]
    assert len(second) == 100
    # the messages sent since the resume bounce too: it trips again, on them alone
    wave.post(
        wave.events(second[:90], "delivered") + wave.events(second[90:], "bounce", type="bounce")
    )
    with pytest.raises(WavePaused, match=r"10 hard bounces of 100 delivered or hard-bounced"):
        wave.send_batch()
    resume(wave.store, "nps-quarterly", WAVE, wave.settings.clock())
    assert wave.send_batch().sent == 100
    assert wave.send_batch().claimed == 0
    recipients = [m["To"] for m in _outbox(wave.settings)]
    assert len(recipients) == len(set(recipients)) == 300


def test_resume_needs_a_known_wave(make_wave):
    from cxops.errors import ConfigError

    wave = make_wave()
    with pytest.raises(ConfigError, match="no wave 'w9'"):
        resume(wave.store, "nps-quarterly", "w9", wave.settings.clock())
    with pytest.raises(ConfigError, match="--resume needs the wave"):
        resume(wave.store, "nps-quarterly", None, wave.settings.clock())
    assert "was not paused" in resume(wave.store, "nps-quarterly", WAVE, wave.settings.clock())


def test_figures_count_each_message_once_per_kind(make_wave):
    wave = make_wave()
    wave.send_batch()
    first = wave.sent()
    # SendGrid may report a deferral many times before delivery
    wave.post(wave.events(first[:5], "deferred") + wave.events(first[:5], "deferred"))
    with wave.store.session() as session:
        assert session.scalar(select(func.count()).select_from(Send)) == 300
    figures = wave_delivery_figures(
        wave.store, "nps-quarterly", WAVE, received_since=wave.context.now - breaker.CLOCK_MARGIN
    )
    assert figures.deferred == 5


# -- the commands ----------------------------------------------------------------------


@pytest.mark.prefect
@pytest.mark.slow
def test_run_says_why_status_shows_it_and_resume_goes_on(project, private_key, prefect_env):
    wave = Wave(project, project.settings().store_url, private_key, breaker_min_delivered=50)
    try:
        wave.send_batch()
        first = wave.sent()
        wave.post(
            wave.events(first[:90], "delivered")
            + wave.events(first[90:], "bounce", type="bounce")
            + wave.events(first[:1], "spamreport")
        )
        with pytest.raises(WavePaused):
            wave.send_batch()
    finally:
        wave.close()

    status = project.run(["status", "--json"], env=prefect_env).json
    [shown] = [w for w in status["open_waves"] if w["wave"] == WAVE]
    assert shown["pending"] == 200 and shown["paused"]["reason"] == "bounce rate"
    assert shown["paused"]["figures"]["hard_bounced"] == 10
    assert shown["paused"]["resume"] == f"cxops run nps-quarterly --wave {WAVE} --resume"
    human = project.run(["status"], env=prefect_env).stdout
    assert "paused by the deliverability breaker" in human
    assert "bounce rate 10% (10 hard bounces of 100 delivered or hard-bounced" in " ".join(
        human.split()
    )

    # without --resume: one line, why with the figures, nothing sent
    stopped = project.run(
        ["run", "nps-quarterly", "--wave", WAVE], env=prefect_env, expect_pass=False
    )
    line = " ".join(stopped.output.split())
    assert "paused by the deliverability breaker" in line
    assert "complaint rate 1.11% (1 spam reports of 90 delivered; limit 0.1%)" in line
    assert "100 of 300 sent, 200 pending" in line
    assert "Traceback" not in stopped.output
    assert len(_outbox(wave.settings)) == 100

    # --resume needs the wave
    project.run(["run", "nps-quarterly", "--resume"], env=prefect_env, expect_pass=False)

    resumed = project.run(
        ["run", "nps-quarterly", "--wave", WAVE, "--resume", "--json"], env=prefect_env
    ).json
    assert resumed["sent"] == 300
    assert any("resumed" in note for note in resumed["notes"])
    recipients = [m["To"] for m in _outbox(wave.settings)]
    assert len(recipients) == len(set(recipients)) == 300
    after = project.run(["status", "--json"], env=prefect_env).json
    assert not [w for w in after["open_waves"] if w["wave"] == WAVE and w["paused"]]
