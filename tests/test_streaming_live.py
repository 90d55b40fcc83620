"""The one live-system assembly (outbox, worker, ack server, engines) and the demo's hit rule."""

from __future__ import annotations

import urllib.request
import warnings

import numpy as np
import pytest
from eegmon.streaming.channels import Channels
from eegmon.streaming.engine import ArchiveWriter
from eegmon.streaming.live import LiveSystem
from eegmon.streaming.outbox import SeizureEvent
from eegmon.streaming.policy import AckSettings, AlertRules, Contact, Policy

from eegmon.archive import Archive
from eegmon.demo import is_hit, replay_demo
from eegmon.events import Annotation

pytestmark = pytest.mark.timeout(120)


def _policy(**ack) -> Policy:
    return Policy((Contact("mum", ("fake://mum",)),), AlertRules(escalate_after_min=0.0, max_reminders=0),
                  ack=AckSettings(**ack))


def _fake_channels(sent: list) -> Channels:
    return Channels(senders={"fake": lambda url, msg: sent.append(msg)})


def test_links_point_at_the_ack_server_it_started(tmp_path):
    sent: list = []
    live = LiveSystem(tmp_path / "o.sqlite", _policy(secret="0123456789abcdef-test", port=0),
                      channels=_fake_channels(sent), interval_s=0.02)
    assert live.ack_server is None  # nothing runs before start
    with live:
        assert live.ack_server is not None and live.ack_link("e", "mum").startswith(live.ack_server.url + "/ack?t=")
        live.outbox.record_event(SeizureEvent("ev1", "s", 1.7e9, 0.9, 1.7e9 + 10, 0.01))
        assert live.drain(10.0)
        assert len(sent) == 1 and live.ack_server.url in sent[0].body
        with urllib.request.urlopen(live.ack_link("ev1", "mum"), timeout=5) as r:
            assert r.status == 200
        server = live.ack_server
    assert live.ack_server is None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/ack", timeout=2)


def test_no_server_without_a_secret_or_when_asked_not_to(tmp_path):
    with LiveSystem(tmp_path / "a.sqlite", _policy()) as live:
        assert live.ack_server is None
        with pytest.raises(RuntimeError, match="ack.secret"):
            live.ack_link("e", "mum")
    with LiveSystem(tmp_path / "b.sqlite", _policy(secret="0123456789abcdef-test", base_url="https://x/"),
                    serve_acks=False) as live:
        assert live.ack_server is None and live.ack_link("e", "mum").startswith("https://x/ack?t=")


def test_engines_alert_through_the_outbox_and_are_closed_by_stop(tmp_path):
    from eegmon.detectors import load_detector

    model, name = load_detector("line-length", None)
    sent: list = []
    live = LiveSystem(tmp_path / "o.sqlite", _policy(), channels=_fake_channels(sent), interval_s=0.02).start()
    writer = ArchiveWriter(tmp_path / "p1.h5", ["a", "b"], 128.0, source="live:p1")
    engine = live.add_stream("p1", model, fs=128.0, channels=["a", "b"], name=name, archive=writer)
    assert engine.outbox is live.outbox and engine.rules == live.policy.alert
    engine.push(1.7e9, np.zeros((128, 2)))
    engine.push(None, "not samples")
    live.stop()
    assert live.engines == []
    with Archive.open(tmp_path / "p1.h5") as arc:  # the buffered block was written when stop closed the engine
        assert [s.n_samples for s in arc.segments] == [128]
    assert [q["kind"] for q in live.outbox.quality()] == ["malformed"]  # quality events go to the outbox


def test_a_hit_overlaps_the_true_seizure_widened_by_the_szcore_tolerances():
    truth = Annotation(onset=1000.0, duration=60.0, label="sz")
    assert is_hit(940.0, 970.0, truth)  # ends 30 s before the onset
    assert not is_hit(940.0, 969.0, truth)
    assert is_hit(1120.0, 1200.0, truth)  # starts 60 s after the offset
    assert not is_hit(1121.0, 1200.0, truth)
    assert is_hit(1010.0, 1020.0, truth)


def test_old_demo_module_warns_and_forwards():
    from eegmon.streaming import demo

    with pytest.warns(DeprecationWarning, match="eegmon.demo.replay_demo"):
        assert demo.replay_demo is replay_demo
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert callable(demo.true_onsets)
    with pytest.raises(AttributeError):
        demo.nothing_here  # noqa: B018


def test_monitor_runs_streams_one_by_one_when_the_batch_fails_and_recovers_the_failing_one(monkeypatch):
    from eegmon.detectors import load_detector
    from eegmon.streaming.engine import Monitor, StreamEngine

    model, name = load_detector("line-length", None)
    mon = Monitor()
    a, b = (mon.add(StreamEngine(s, model, fs=128.0, channels=["x"], name=name)) for s in ("a", "b"))

    def broken(rows):
        raise RuntimeError("estimator down")

    monkeypatch.setattr(a, "proba", broken)  # the batched call (the first member's) and a's own call fail
    x = np.random.default_rng(0).standard_normal((128 * 4, 1)) * 20.0
    mon.push_many([("a", 1.7e9, x), ("b", 1.7e9, x)])
    assert a.stats.quality == {"engine_error": 1} and a.stats.windows == 0
    assert "engine_error" not in b.stats.quality and b.stats.windows > 0
