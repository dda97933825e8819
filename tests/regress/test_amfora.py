"""
A real client: amfora (Debian package amfora), driven in tmux, reads the
default capsule served by the real daemon with the `make run` config
(only the port is changed, so a developer's `make run` may keep 1965).
It loads the home page, follows a link into the news index, then into a
post, and checks what amfora shows on screen.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, Server

pytestmark = pytest.mark.skipif(
    shutil.which("amfora") is None or shutil.which("tmux") is None,
    reason="needs amfora and tmux (make check installs them on Debian)")


@pytest.fixture
def capsule_server(tmp_path):
    text = (ROOT / "etc" / "run.ini").read_text()
    s = Server(tmp_path, ROOT / "capsule")
    text = re.sub(r"(?m)^listen = .*$", f"listen = 127.0.0.1:{s.port}", text)
    text = text.replace("../capsule", str(ROOT / "capsule"))
    text = text.replace("../certs", str(tmp_path / "certs"))
    text = text.replace(" lists/", " " + str(ROOT / "etc" / "lists") + "/")
    s.write_config(text)
    s.start()
    yield s
    assert s.stop() == 0


class Amfora:
    def __init__(self, home, url):
        self.name = f"amfora-test-{os.getpid()}"
        env = dict(os.environ, HOME=str(home), TERM="xterm-256color")
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name,
                        "-x", "120", "-y", "50", f"amfora {url}"],
                       check=True, env=env)

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-t", self.name,
                               "-p"], capture_output=True,
                              text=True).stdout

    def wait_for(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen:\n{self.screen()}")

    def keys(self, *keys):
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys],
                       check=True)

    def link_number(self, label):
        m = re.search(r"\[(\d+)\]\s+" + re.escape(label), self.screen())
        assert m, f"no link {label!r} on screen:\n{self.screen()}"
        return m.group(1)

    def follow(self, label):
        # Space opens amfora's bottom bar, which takes a link number of
        # any length (a bare digit key follows links 1-9 at once)
        self.keys("Space")
        time.sleep(0.3)
        self.keys(self.link_number(label), "Enter")

    def close(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name],
                       capture_output=True)


def test_amfora_reads_home_then_news_index_then_a_post(capsule_server,
                                                       tmp_path):
    a = Amfora(tmp_path / "home", capsule_server.url("/"))
    try:
        home = a.wait_for("# Barnet UNISON")
        assert "Branch news" in home
        a.follow("Branch news")
        news = a.wait_for("2024-07-17 Bad News for Housing Workers")
        assert "2025-01-06" in news, "newest first"
        a.follow("2024-07-17 Bad News for Housing Workers")
        post = a.wait_for("# Bad News for Housing Workers in Barnet Council")
        # a line of the post's body (on the first screen), found nowhere
        # else in the capsule: the heading alone is not the post
        assert "If something isn’t broken don’t fix it, is my mantra" in post
    finally:
        a.close()
    log = capsule_server.log()
    assert '/news/" 20' in log
    assert "2024-07-17-bad-news-for-housing-workers-in-barnet-council.gmi" \
        '" 20' in log


def test_amfora_shows_the_live_strike_counter(capsule_server, tmp_path):
    a = Amfora(tmp_path / "home", capsule_server.url("/"))
    try:
        a.wait_for("# Barnet UNISON")
        a.follow("Live strike-day counter: all disputes")
        screen = a.wait_for("days since the dispute began")
        assert "days of strike action" in screen
        # today's count, from the same clock the counter uses
        import datetime
        import zoneinfo
        today = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/London"))
        days = (today.date() - datetime.date(2023, 9, 1)).days
        assert f"{days} days since the dispute began" in screen
    finally:
        a.close()
