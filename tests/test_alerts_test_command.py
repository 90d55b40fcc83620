"""``eegmon alerts test``: a labelled test message through every channel, sent now, reported per channel.

Real receivers on 127.0.0.1 (a JSON webhook and an ntfy server); the CLI runs in-process.
"""

from __future__ import annotations

import pytest
from test_ntfy import NtfyServer
from test_streaming_alerts import Hook

from eegmon.cli import main

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

LABEL = "eegmon test alert: if you got this, alerts reach you on this channel."


@pytest.fixture()
def receivers():
    hook, ntfy = Hook().up(), NtfyServer().up()
    yield hook, ntfy
    hook.down()
    ntfy.down()


def write_policy(path, hook_port: int, ntfy_url: str) -> None:
    path.write_text(f"""
[patient]
alias = "Sam"

[delivery]
timeout_s = 5.0

[[contacts]]
name = "parent"
channels = ["json://127.0.0.1:{hook_port}/hook/${{EEGMON_TEST_HOOK_KEY}}", "{ntfy_url}"]

[[contacts]]
name = "neighbour"
channels = ["console://"]
""")


@pytest.fixture()
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", "hook-secret-123456")
    monkeypatch.chdir(tmp_path)  # an outbox would appear here (eegmon-alerts.sqlite): none must
    return tmp_path


def report_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.endswith("  OK") or "  FAILED: " in ln]


def test_all_channels_up_exit_0(env, receivers, capsys):
    hook, ntfy = receivers
    policy = env / "alerts.toml"
    write_policy(policy, hook.port, ntfy.url())
    assert main(["alerts", "test", "--alerts", str(policy)]) == 0
    out = capsys.readouterr().out
    lines = report_lines(out)
    assert len(lines) == 3 and all(ln.endswith("  OK") for ln in lines)
    assert lines[0].startswith("parent") and "json://127.0.0.1" in lines[0]
    assert lines[2].startswith("neighbour") and "console://" in lines[2]
    assert "hook-secret-123456" not in out  # the channel is shown redacted
    assert "3 of 3 channel(s) delivered" in out

    ((key, body, _),) = hook.received
    assert body["message"].startswith(LABEL) and "not a seizure alert" in body["message"]
    assert "Sam" in body["title"] and key and key in body["message"]
    (pushed,) = ntfy.messages
    assert pushed["message"].startswith(LABEL)
    assert pushed["priority"] == 5  # as urgent as a real alert: the family checks it breaks through
    assert pushed["actions"] == []  # no event to acknowledge
    assert LABEL in out  # the console channel printed the test message itself
    assert not (env / "eegmon-alerts.sqlite").exists()  # no outbox, no event


def test_one_channel_down_exit_1_names_it(env, receivers, capsys):
    hook, ntfy = receivers
    ntfy.down()  # the phone push server is unreachable
    policy = env / "alerts.toml"
    write_policy(policy, hook.port, ntfy.url())
    try:
        assert main(["alerts", "test", "--alerts", str(policy)]) == 1
    finally:
        ntfy.up()  # for the fixture's teardown (a new server on the same port)
    out = capsys.readouterr().out
    lines = report_lines(out)
    assert len(lines) == 3 and lines[0].endswith("  OK") and lines[2].endswith("  OK")
    failed = [ln for ln in lines if "FAILED" in ln]
    assert len(failed) == 1 and failed[0].startswith("parent") and "ntfy://127.0.0.1" in failed[0]
    assert "Connection error" in failed[0]  # apprise's reason, not just "failed"
    assert "2 of 3 channel(s) delivered, 1 FAILED" in out
    assert len(hook.received) == 1  # the other channels were still tried


def test_contact_selects_its_channels(env, receivers, capsys):
    hook, ntfy = receivers
    policy = env / "alerts.toml"
    write_policy(policy, hook.port, ntfy.url())
    assert main(["alerts", "test", "--alerts", str(policy), "--contact", "neighbour"]) == 0
    lines = report_lines(capsys.readouterr().out)
    assert len(lines) == 1 and lines[0].startswith("neighbour")
    assert hook.received == [] and ntfy.messages == []


def test_unknown_contact_exit_2(env, receivers, capsys):
    hook, ntfy = receivers
    policy = env / "alerts.toml"
    write_policy(policy, hook.port, ntfy.url())
    assert main(["alerts", "test", "--alerts", str(policy), "--contact", "grandma"]) == 2
    err = capsys.readouterr().err
    assert "grandma" in err and len(err.strip().splitlines()) == 1
    assert hook.received == [] and ntfy.messages == []


def test_unset_variable_exit_2_before_sending(env, receivers, monkeypatch, capsys):
    hook, ntfy = receivers
    monkeypatch.delenv("EEGMON_TEST_HOOK_KEY")
    policy = env / "alerts.toml"
    write_policy(policy, hook.port, ntfy.url())
    assert main(["alerts", "test", "--alerts", str(policy)]) == 2
    assert "EEGMON_TEST_HOOK_KEY" in capsys.readouterr().err
    assert hook.received == [] and ntfy.messages == []  # nothing half-sent


def test_contact_with_another_action_is_refused(env, capsys):
    assert main(["alerts", "list", "--contact", "parent"]) == 2
    assert "--contact" in capsys.readouterr().err
