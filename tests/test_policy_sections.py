"""The [patient] and [supervision] sections of the alert policy and the alert countdown: parsed and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from eegmon.streaming.policy import PatientSettings, Supervision, load_policy, parse_policy

from eegmon.errors import EegmonError

CONTACTS = {"contacts": [{"name": "mum", "channels": ["console://"]}]}


def test_defaults_and_the_example_file():
    p = parse_policy(dict(CONTACTS))
    assert p.patient == PatientSettings() and p.supervision == Supervision() and p.alert.countdown_s == 0.0
    example = load_policy(Path(__file__).parents[1] / "sample_data" / "alerts.example.toml")
    assert example.patient.alias == "Sam" and example.patient.time_zone == "Europe/London"
    assert example.supervision.no_data_s == 60.0 and example.supervision.deadman_url == ""


def test_sections_are_read():
    p = parse_policy({"patient": {"alias": "Sam", "time_zone": "Europe/Paris", "instructions": "Stay with Sam."},
                      "alert": {"countdown_s": 30}, "ack": {"secret": "s" * 20},
                      "supervision": {"no_data_s": 0, "stale_s": 90, "deadman_url": "https://hc.example.org/ping/x"},
                      **CONTACTS})
    assert (p.patient.alias, p.patient.time_zone, p.patient.instructions) == ("Sam", "Europe/Paris", "Stay with Sam.")
    assert p.alert.countdown_s == 30.0
    assert (p.supervision.no_data_s, p.supervision.stale_s) == (0.0, 90.0)
    assert p.supervision.deadman_url == "https://hc.example.org/ping/x"


@pytest.mark.parametrize(("section", "match"), [
    ({"patient": {"alias": " "}}, "patient.alias must not be empty"),
    ({"patient": {"time_zone": "Europe/Pari"}}, "unknown time zone 'Europe/Pari'.*Europe/Paris"),
    ({"patient": {"name": "Sam"}}, "unknown key patient.name"),
    ({"supervision": {"heartbeat_s": 0}}, "supervision.heartbeat_s must be > 0"),
    ({"supervision": {"stale_s": 5, "heartbeat_s": 10}}, "stale_s .* must be longer than heartbeat_s"),
    ({"supervision": {"battery_low": 1.5}}, "battery_low is a fraction"),
    ({"supervision": {"deadman_url": "ftp://x"}}, "deadman_url must be an http"),
    ({"supervision": {"no_data_s": -1}}, "supervision.no_data_s must be >= 0"),
    ({"alert": {"countdown_s": "soon"}}, "alert.countdown_s must be a float"),
])
def test_bad_values_name_the_key(section, match):
    with pytest.raises(EegmonError, match=match):
        parse_policy({**section, **CONTACTS}, "alerts.toml")


def test_a_countdown_needs_links_to_cancel_it():
    with pytest.raises(EegmonError, match="countdown_s needs \\[ack\\] secret"):
        parse_policy({"alert": {"countdown_s": 60}, **CONTACTS})
    p = parse_policy({"alert": {"countdown_s": 60}, "ack": {"secret": "s" * 20}, **CONTACTS})
    assert p.alert.countdown_s == 60.0
