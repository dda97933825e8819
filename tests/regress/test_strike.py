"""
The strike-day counter (capsule/cgi-bin/strike), run as capsuled runs a
CGI script: an empty environment plus the variables under test, and the
script's own directory as the working directory.

The counts at fixed dates are the public record (the sources are cited in
capsule/.data/disputes.ini): the dispute began on 1 September 2023; the
first strike day was 26 September 2023; 9 days of action when the open
letters of 15 and 16 November 2023 were written; 27 by 18 February 2024;
more than 40 (41) by 16 May 2024; 56 by 7 June 2024; 81 in all, the last
on 12 July 2024; strike action suspended on 15 July 2024; the posts'
"400 days" counted from the first strike day, on 30 October 2024.  They
are checked against the shipped data file, and so is what was known on
each day: the days announced by then (6 on 25 September 2023, 32 by 24
October 2023, 72 by 8 March 2024, 82 with the nine-week walkout of 17
May 2024), and nothing said of the present past the newest source (4
September 2024).  Everything else runs on small data files written per
test.
"""
import datetime
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
CGI_DIR = ROOT / "capsule" / "cgi-bin"
STRIKE = CGI_DIR / "strike"
DATA = ROOT / "capsule" / ".data" / "disputes.ini"
BEGAN = datetime.date(2023, 9, 1)
FIRST_STRIKE = datetime.date(2023, 9, 26)
TITLE = "Mental health social workers’ dispute"

# Gemini: two digits, a space, meta of at most 1024 bytes of UTF-8, CRLF.
HEADER = re.compile(rb"\A([1-6][0-9]) ([^\r\n]*)\r\n")


@dataclass
class Reply:
    status: int
    meta: str
    body: str


@pytest.fixture(scope="module", autouse=True)
def strike_built():
    subprocess.run(["make", "-s", "capsule/cgi-bin/strike"], cwd=ROOT,
                   check=True)


def run(today=None, data=None, path_info=None, cwd=CGI_DIR, **extra):
    """Run the counter as a CGI script and check its header."""
    env = dict(extra)
    if today is not None:
        env["STRIKE_TODAY"] = today
    if data is not None:
        env["STRIKE_DATA"] = str(data)
    if path_info is not None:
        env["PATH_INFO"] = path_info
    p = subprocess.run([str(STRIKE)], cwd=cwd, env=env,
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p.stderr
    m = HEADER.match(p.stdout)
    assert m, f"malformed header: {p.stdout[:200]!r}"
    meta = m.group(2)
    assert len(meta) <= 1024
    status = int(m.group(1))
    body = p.stdout[m.end():]
    if status != 20:
        assert body == b"", "a body follows 2x only"
    return Reply(status, meta.decode("utf-8"), body.decode("utf-8"))


def write(tmp_path, text, name="disputes.ini"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def dispute(id="a", title="Dispute A", began="2024-01-01", state="live",
            extra="", asof="2999-12-31"):
    return (f"[dispute {id}]\ntitle = {title}\nbegan = {began}\n"
            f"state = {state}\nfactsheet = /disputes/{id}.gmi\n"
            f"asof = {asof}\n{extra}")


def count(reply, what):
    """The N of "N days ..." / "N day ..." in the body."""
    m = re.search(r"^(\d+) days? " + what, reply.body, re.M)
    assert m, f"no '{what}' in {reply.body!r}"
    return int(m.group(1))


def taken(reply):
    """Days of action taken before today."""
    return count(reply, r"of strike action taken(?: before today)?;")


def today_is_day(reply):
    """N of "today is day N of strike action", or None."""
    m = re.search(r"; today is day (\d+) of strike action\.$", reply.body,
                  re.M)
    return int(m.group(1)) if m else None


def action(reply):
    """Days of action up to and including today."""
    n = taken(reply)
    if today_is_day(reply) is not None:
        assert today_is_day(reply) == n + 1
        return n + 1
    assert f"{n} day{'' if n == 1 else 's'} of strike action taken; " \
        "today is not a strike day.\n" in reply.body
    return n


def since(reply):
    return count(reply, "since the dispute began")


def since_first(reply):
    return count(reply, "since the first strike day")


def planned(reply):
    m = re.search(r"^(\d+) more days? of strike action planned after today",
                  reply.body, re.M)
    return int(m.group(1)) if m else 0


def line(reply, prefix):
    for ln in reply.body.splitlines():
        if ln.startswith(prefix):
            return ln
    raise AssertionError(f"no line starting {prefix!r} in {reply.body!r}")


# The public record, on the shipped data file.

@pytest.mark.parametrize("today,days", [
    ("2023-09-25", 0),
    ("2023-09-26", 1),      # the first strike day
    ("2023-10-12", 6),      # the six days of the first notice
    ("2023-11-13", 9),      # "our 9 days of strike action" (open letters)
    ("2023-11-16", 12),     # 14-16 November struck as well
    ("2024-02-18", 27),     # Community Care: "after 27 days of action"
    ("2024-03-08", 27),     # 4-8 March 2024 announced, never struck
    ("2024-04-03", 27),     # the branch: "already taken 27 days"
    ("2024-04-19", 32),     # the branch: "Day 32 of their strike action"
    ("2024-05-12", 37),     # Community Care: 37 days before the walkout
    ("2024-05-13", 38),     # Morning Star: "38th day of action"
    ("2024-05-16", 41),     # "more than 40 days of strike action"
    ("2024-05-27", 47),     # the bank holiday is not a day of action
    ("2024-06-07", 56),     # Community Care, 10 June: "56 days' action"
    ("2024-07-12", 81),     # the last day of the nine-week walkout
    ("2024-07-16", 81),     # Community Care: "81 days' strike action"
    ("2024-10-30", 81),     # the Libby Nolan post: "81 days"
    ("2026-12-02", 81),     # today: no action since the suspension
])
def test_record_days_of_action(today, days):
    r = run(today)
    assert r.status == 20
    assert r.meta == "text/gemini; lang=en-GB"
    assert action(r) == days


def test_record_27_may_2024_is_skipped():
    r = run("2024-05-27")
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: Friday 24 May 2024"
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: Tuesday 28 May 2024"


def test_record_no_strike_day_after_the_suspension_on_15_july_2024():
    r = run("2024-07-15")
    assert action(r) == 81
    assert planned(r) == 0
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: Friday 12 July 2024"
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: none planned"


def test_suspended_says_the_dispute_remains_live():
    # the press release: strike action was suspended on 15 July 2024 and
    # the dispute "remains live"; the page must not read as if it ended
    assert line(run("2024-09-04"), "* State:") == \
        "* State: the dispute is live; only strike action was " \
        "suspended, on Monday 15 July 2024"


# Issue: "today" on a strike day, the day after one, a weekend, and after
# the last day.  Reports count the days "taken" before the day in progress
# (Community Care, 10 June 2024, the first day of the walkout's fifth
# week: "56 days' action"), so the counter says both.

def test_a_strike_day_says_days_taken_before_today_and_which_day_today_is():
    r = run("2024-06-10")
    assert "56 days of strike action taken before today; today is day 57 " \
        "of strike action.\n" in r.body
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: Friday 7 June 2024"
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: Tuesday 11 June 2024"


def test_the_first_strike_day_is_day_1_with_none_taken_before():
    r = run("2023-09-26")
    assert "0 days of strike action taken before today; today is day 1 " \
        "of strike action.\n" in r.body
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: none"


def test_the_day_after_a_strike_day_counts_it_as_taken():
    r = run("2023-09-27")       # after Tuesday 26 September 2023
    assert "1 day of strike action taken; today is not a strike day.\n" \
        in r.body
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: Tuesday 26 September 2023"
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: Tuesday 3 October 2023"


@pytest.mark.parametrize("today", ["2024-06-08", "2024-06-09"])
def test_a_weekend_inside_the_walkout_is_not_a_strike_day(today):
    r = run(today)
    assert "56 days of strike action taken; today is not a strike " \
        "day.\n" in r.body
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: Monday 10 June 2024"


def test_the_last_strike_day_and_the_day_after_it():
    r = run("2024-07-12")
    assert "80 days of strike action taken before today; today is day 81 " \
        "of strike action.\n" in r.body
    assert planned(r) == 0
    r = run("2024-07-13")
    assert "81 days of strike action taken; today is not a strike day.\n" \
        in r.body
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: none planned"


# Issue: nothing about the present past the newest source.  The data
# file's asof is the fact sheet of 4 September 2024.

def test_past_the_newest_source_everything_is_as_of_its_date():
    r = run("2026-12-02")
    assert "The newest report we hold is of Wednesday 4 September 2024: " \
        "nothing after it is known here.\n" in r.body
    assert line(r, "* State:") == \
        "* State: as of the newest report we hold, of Wednesday 4 " \
        "September 2024, the dispute was live; only strike action had " \
        "been suspended, on Monday 15 July 2024"
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: none planned, as of Wednesday 4 " \
        "September 2024"
    for present in ("remains live", "is live", "is suspended"):
        assert present not in r.body


def test_up_to_the_newest_source_the_state_is_said_plainly():
    r = run("2024-09-04")
    assert "newest report" not in r.body
    assert line(r, "* State:") == "* State: the dispute is live; only " \
        "strike action was suspended, on Monday 15 July 2024"


def test_days_after_asof_are_not_confirmed_as_taken(tmp_path):
    # a walkout announced for 4-8 March, the newest source of 5 March
    data = write(tmp_path, dispute(asof="2024-03-05", extra=(
        "strike = 2024-03-04..2024-03-08 weekdays announced 2024-02-20\n")))
    r = run("2024-03-05", data)
    assert "newest report" not in r.body
    assert "1 day of strike action taken before today; today is day 2 of " \
        "strike action.\n" in r.body
    r = run("2024-03-07", data)
    assert "3 days of strike action taken before today; today is day 4 " \
        "of strike action.\n" in r.body
    assert "2 of these days (after Tuesday 5 March 2024, the newest report " \
        "we hold) were only planned: not confirmed as taken.\n" in r.body
    assert "1 more day of strike action planned after today, as of " \
        "Tuesday 5 March 2024.\n" in r.body
    assert line(r, "* State:") == "* State: as of the newest report we " \
        "hold, of Tuesday 5 March 2024, the dispute was live"


# Issue: a past date shows only what was known that day.  Taken + planned
# is every day announced by then: 6 by 12 September 2023 [CC-0912]; "9 of
# 32 announced strike dates" in the open letter of 15 November 2023
# [BU-1115], written between 9 and 14 November; 72 by the end
# of the plan of 8 March 2024 [CC-0308, BU-0410]; the nine-week walkout
# of 17 May 2024 [CC-0517] (82 with the bank holiday, not struck: 81).

@pytest.mark.parametrize("today,done,ahead", [
    ("2023-09-11", 0, 0),       # before the first notice
    ("2023-09-12", 0, 6),       # [CC-0912]: 26 September, 3-4, 10-12 Oct
    ("2023-09-25", 0, 6),
    ("2023-10-23", 6, 0),       # the 26 further days not announced yet
    ("2023-10-24", 6, 26),      # [BU-1024]: November 2023 to March 2024
    ("2023-11-13", 9, 23),      # [BU-1115]: "9 of 32 announced"
    ("2024-03-01", 27, 5),      # 4-8 March, as announced
    ("2024-03-04", 27, 0),      # not struck: called off
    ("2024-03-07", 27, 0),
    ("2024-03-08", 27, 45),     # [CC-0308]: three periods, 15 April on
    ("2024-04-10", 27, 45),     # [BU-0410]: "72 days" at the end
    ("2024-05-16", 41, 31),     # before the gap of 3-14 June was filled
    ("2024-05-17", 42, 40),     # [CC-0517]: nine consecutive weeks
    ("2024-05-27", 47, 34),     # the bank holiday: called off
    ("2024-07-15", 81, 0),
])
def test_a_past_date_shows_only_what_was_known_then(today, done, ahead):
    r = run(today)
    assert (action(r), planned(r)) == (done, ahead), r.body


def test_on_25_september_2023_nothing_of_the_later_dispute_shows():
    # the issue's case: it said "81 more days planned" and "suspended on
    # 15 July 2024" ten months ahead of either
    r = run("2023-09-25")
    assert planned(r) == 6
    assert [l for l in r.body.splitlines()
            if "2024" in l and not l.startswith("=> ")] == []
    assert line(r, "* State:") == "* State: live"


def test_a_block_is_planned_from_its_announcement_until_cancelled(tmp_path):
    data = write(tmp_path, dispute(extra=(
        "strike = 2024-03-04..2024-03-08 weekdays announced 2024-02-20 "
        "cancelled 2024-03-01\n"
        "strike = 2024-04-01..2024-04-05 weekdays announced 2024-03-15\n"
        "strike = 2024-05-06\n")))
    assert planned(run("2024-02-19", data)) == 0
    assert planned(run("2024-02-20", data)) == 5
    r = run("2024-02-29", data)
    assert planned(r) == 5
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: Monday 4 March 2024"
    r = run("2024-03-01", data)         # called off: never taken
    assert planned(r) == 0 and action(r) == 0
    assert action(run("2024-03-14", data)) == 0
    assert planned(run("2024-03-15", data)) == 5
    assert action(run("2024-04-05", data)) == 5
    # a day given without "announced" is never shown ahead of itself
    r = run("2024-05-05", data)
    assert planned(r) == 0
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: none planned"
    assert action(run("2024-05-06", data)) == 6


def test_a_block_without_announced_is_known_from_its_first_day(tmp_path):
    data = write(tmp_path, dispute(extra=(
        "strike = 2024-03-04..2024-03-08 weekdays\n")))
    assert planned(run("2024-03-03", data)) == 0
    r = run("2024-03-04", data)
    assert planned(r) == 4 and action(r) == 1


def test_the_state_follows_the_date(tmp_path):
    data = write(tmp_path, dispute(state="suspended", extra=(
        "suspended = 2024-03-11\nstrike = 2024-03-04\n")))
    assert line(run("2024-03-10", data), "* State:") == "* State: live"
    assert line(run("2024-03-11", data), "* State:") == \
        "* State: the dispute is live; only strike action was suspended, " \
        "on Monday 11 March 2024"


def test_400_days_counts_from_the_first_strike_day_on_30_october_2024():
    # "400 days since the dispute first began. 81 days of strike action."
    r = run("2024-10-30")
    assert since_first(r) == 400
    assert since(r) == 425
    assert action(r) == 81
    assert "400 days since the first strike day, Tuesday 26 September " \
        "2023.\n" in r.body
    assert "425 days since the dispute began on Friday 1 September " \
        "2023.\n" in r.body


def test_both_day_counts_today_2_december_2026():
    r = run("2026-12-02")
    assert since(r) == (datetime.date(2026, 12, 2) - BEGAN).days == 1188
    assert since_first(r) == \
        (datetime.date(2026, 12, 2) - FIRST_STRIKE).days == 1163
    assert action(r) == 81


def test_the_day_a_dispute_begins_is_day_0():
    assert since(run("2023-09-01")) == 0
    assert since(run("2023-09-02")) == 1
    assert since(run("2024-10-05")) == 400
    assert since_first(run("2023-09-26")) == 0


def test_no_first_strike_line_before_the_first_strike_day():
    r = run("2023-09-25")
    assert "since the first strike day" not in r.body
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: Tuesday 26 September 2023"


def test_2024_10_30_page_has_every_part():
    r = run("2024-10-30")
    assert r.body.startswith("# ")
    assert "## " + TITLE + "\n" in r.body
    assert "81 days of strike action taken; today is not a strike day.\n" \
        in r.body
    assert line(r, "* Last strike day before today:").endswith(" 2024")
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: none planned, as of Wednesday " \
        "4 September 2024"
    assert line(r, "* State:").startswith("* State: as of the newest "
                                          "report we hold, of Wednesday "
                                          "4 September 2024, the dispute "
                                          "was live")
    link = line(r, "=> ")
    assert link == "=> /disputes/2024-09-04-all-you-need-to-know-mental-" \
        "health-social-worker-strike.gmi Fact sheet: " + TITLE


def test_the_counter_runs_as_the_external_tests_run_it(tmp_path):
    # cd capsule/cgi-bin && env -i STRIKE_TODAY=... STRIKE_DATA=PATH
    # SCRIPT_NAME=/cgi-bin/strike PATH_INFO=/mental-health ./strike
    copy = write(tmp_path, DATA.read_bytes())
    p = subprocess.run(["env", "-i", "STRIKE_TODAY=2024-05-16",
                        "STRIKE_DATA=" + str(copy),
                        "SCRIPT_NAME=/cgi-bin/strike",
                        "PATH_INFO=/mental-health", "./strike"],
                       cwd=CGI_DIR, capture_output=True, timeout=10)
    assert p.returncode == 0
    assert p.stdout.startswith(b"20 text/gemini; lang=en-GB\r\n")
    assert b"\n40 days of strike action taken before today; today is day " \
        b"41 of strike action.\n" in p.stdout


def test_shipped_data_file_has_no_approximation_left():
    text = DATA.read_text("utf-8")
    assert "APPROXIMA" not in text.upper()
    assert "placeholder" not in text.lower()


def test_today_is_the_date_on_the_london_clock():
    london = ZoneInfo("Europe/London")
    before = datetime.datetime.now(london).date()
    r = run()
    after = datetime.datetime.now(london).date()
    assert since(r) in {(before - BEGAN).days, (after - BEGAN).days}
    assert "(Europe/London)" in r.body
    assert action(r) >= 81      # the branch may add days, never remove them


# Time zones.

@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_today_follows_the_clock_in_the_data_files_timezone(tmp_path, zone):
    # UTC+14 and UTC-12 never share a date, so only the right zone passes
    data = write(tmp_path, f"timezone = {zone}\n" +
                 dispute(began="2000-01-01"))
    before = datetime.datetime.now(ZoneInfo(zone)).date()
    r = run(data=data)
    after = datetime.datetime.now(ZoneInfo(zone)).date()
    start = datetime.date(2000, 1, 1)
    assert since(r) in {(before - start).days, (after - start).days}


def test_a_posix_tz_rule_works_without_a_zoneinfo_file(tmp_path):
    data = write(tmp_path, "timezone = GMT0BST,M3.5.0/1,M10.5.0\n" +
                 dispute(began="2000-01-01"))
    london = ZoneInfo("Europe/London")
    before = datetime.datetime.now(london).date()
    r = run(data=data)
    after = datetime.datetime.now(london).date()
    start = datetime.date(2000, 1, 1)
    assert since(r) in {(before - start).days, (after - start).days}


FAKE_CLOCK = r"""
#include <time.h>
/* 2024-07-01T23:30:00Z: Tuesday 2 July in London (BST), Monday in UTC */
#define NOW 1719876600
time_t time(time_t *t) { if (t) *t = NOW; return NOW; }
int clock_gettime(clockid_t c, struct timespec *ts)
{ (void)c; ts->tv_sec = NOW; ts->tv_nsec = 0; return 0; }
"""


@pytest.fixture(scope="module")
def fake_clock(tmp_path_factory):
    d = tmp_path_factory.mktemp("clock")
    (d / "clock.c").write_text(FAKE_CLOCK)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(d / "clock.so"),
                    str(d / "clock.c")], check=True)
    # a sanitizer build wants its runtime first; the shim comes first here
    return dict(LD_PRELOAD=str(d / "clock.so"),
                ASAN_OPTIONS="verify_asan_link_order=0")


@pytest.mark.parametrize("tzdir", ["/usr/share/zoneinfo", "/nonexistent"])
def test_the_default_zone_is_london_even_without_zone_files(
        tmp_path, fake_clock, tzdir):
    # with no zone files (a chroot; TZDIR is where the C library looks)
    # the default zone falls back to its POSIX rule, not to UTC
    data = write(tmp_path, dispute(began="2024-07-01"))
    r = run(data=data, TZDIR=tzdir, **fake_clock)
    assert "Today is Tuesday 2 July 2024 (Europe/London)." in r.body, r.body
    assert since(r) == 1


# Leap years: integer days from civil, no mktime.

@pytest.mark.parametrize("began,today,days", [
    ("2024-02-28", "2024-03-01", 2),    # 29 February 2024 is a day
    ("2023-02-28", "2023-03-01", 1),    # 2023 has none
    ("2023-09-01", "2024-09-01", 366),  # a year across 29 February 2024
    ("2024-09-01", "2025-09-01", 365),
    ("2099-12-31", "2100-03-01", 60),   # 2100 is not a leap year
    ("1999-12-31", "2000-03-01", 61),   # 2000 is
])
def test_days_since_a_dispute_spanning_29_february(tmp_path, began, today,
                                                   days):
    data = write(tmp_path, dispute(began=began))
    assert since(run(today, data)) == days


@pytest.mark.parametrize("strike,days", [
    ("2024-02-27..2024-03-02", 5),
    ("2024-02-27..2024-03-02 weekdays", 4),     # 29 Feb 2024 is a Thursday
    ("2024-02-29", 1),
    ("2023-02-27..2023-03-02", 4),
])
def test_a_strike_range_across_29_february(tmp_path, strike, days):
    data = write(tmp_path, dispute(began="2023-01-01",
                                   extra=f"strike = {strike}\n"))
    assert action(run("2024-10-05", data)) == days


@pytest.mark.parametrize("date", ["2023-02-29", "2100-02-29", "1900-02-29"])
def test_29_february_outside_a_leap_year_is_a_bad_date(tmp_path, date):
    data = write(tmp_path, dispute(began="1900-01-01",
                                   extra=f"strike = {date}\n"))
    r = run("2024-10-05", data)
    assert r.status == 50
    assert r.meta == f'{data}:7: bad date "{date}"'


def test_29_february_2000_is_a_real_date(tmp_path):
    data = write(tmp_path, dispute(began="2000-02-29"))
    assert run("2000-03-01", data).status == 20


# Counting strike days.

def test_days_after_today_are_planned_not_counted(tmp_path):
    data = write(tmp_path, dispute(extra="strike = 2024-03-04\n"
                                         "strike = 2024-03-11..2024-03-13 "
                                         "announced 2024-02-20\n"))
    r = run("2024-03-10", data)
    assert action(r) == 1
    assert planned(r) == 3
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: Monday 4 March 2024"
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: Monday 11 March 2024"


def test_today_counts_as_a_day_of_action(tmp_path):
    data = write(tmp_path, dispute(extra="strike = 2024-03-11\n"))
    r = run("2024-03-11", data)
    assert action(r) == 1
    assert "0 days of strike action taken before today; today is day 1 " \
        "of strike action.\n" in r.body
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: none"
    assert line(r, "* Next strike day after today:") == \
        "* Next strike day after today: none planned"


def test_a_day_listed_twice_counts_once(tmp_path):
    data = write(tmp_path, dispute(extra="strike = 2024-03-04..2024-03-08\n"
                                         "strike = 2024-03-06..2024-03-12\n"
                                         "strike = 2024-03-12\n"))
    assert action(run("2024-10-05", data)) == 9


def test_weekdays_range_leaves_out_saturdays_and_sundays(tmp_path):
    # a nine-week walkout, Monday 20 May to Friday 19 July 2024
    data = write(tmp_path, dispute(
        extra="strike = 2024-05-20..2024-07-19 weekdays\n"))
    assert action(run("2024-10-05", data)) == 45
    data = write(tmp_path, dispute(extra="strike = 2024-05-20..2024-07-19\n"))
    assert action(run("2024-10-05", data)) == 61


def test_no_strike_days_yet(tmp_path):
    r = run("2024-10-05", write(tmp_path, dispute()))
    assert action(r) == 0
    assert line(r, "* Last strike day before today:") == \
        "* Last strike day before today: none"


def test_a_dispute_that_has_not_begun_says_when_it_begins(tmp_path):
    r = run("2024-10-05", write(tmp_path, dispute(began="2024-12-02")))
    assert "The dispute begins on Monday 2 December 2024.\n" in r.body


def test_days_since_the_first_strike_day(tmp_path):
    data = write(tmp_path, dispute(began="2024-01-01",
                                   extra="strike = 2024-03-11\n"
                                         "strike = 2024-02-05\n"))
    r = run("2024-03-10", data)
    assert "34 days since the first strike day, Monday 5 February " \
        "2024.\n" in r.body
    r = run("2024-02-04", data)
    assert "since the first strike day" not in r.body


def test_a_suspended_dispute_without_a_date_is_still_live(tmp_path):
    # without its date the suspension is known from asof (the newest source)
    data = write(tmp_path, dispute(state="suspended", asof="2024-10-05"))
    assert line(run("2024-10-05", data), "* State:") == \
        "* State: the dispute is live; only strike action is suspended"
    assert line(run("2024-10-04", data), "* State:") == "* State: live"
    assert line(run("2024-10-06", data), "* State:") == \
        "* State: as of the newest report we hold, of Saturday 5 October " \
        "2024, the dispute was live; only strike action was suspended"


def test_a_settled_dispute_says_when(tmp_path):
    data = write(tmp_path, dispute(state="settled",
                                   extra="ended = 2024-06-28\n"))
    assert line(run("2024-10-05", data), "* State:") == \
        "* State: the dispute was settled on Friday 28 June 2024"
    # before the day it settled, what was known then: it was live
    assert line(run("2024-06-27", data), "* State:") == "* State: live"


# PATH_INFO picks one dispute.

TWO = dispute("a", "Dispute A") + dispute("bb-2", "Dispute B")


def test_no_path_info_shows_every_dispute(tmp_path):
    data = write(tmp_path, TWO)
    for info in (None, "", "/"):
        r = run("2024-10-05", data, info)
        assert "## Dispute A\n" in r.body and "## Dispute B\n" in r.body


@pytest.mark.parametrize("info", ["/bb-2", "/bb-2/"])
def test_path_info_shows_that_dispute_alone(tmp_path, info):
    r = run("2024-10-05", write(tmp_path, TWO), info)
    assert r.status == 20
    assert r.body.startswith("# Dispute B\n")
    assert "Dispute A" not in r.body
    assert line(r, "=> ") == "=> /disputes/bb-2.gmi Fact sheet: Dispute B"


def test_path_info_on_the_shipped_data():
    r = run("2024-10-30", path_info="/mental-health")
    assert r.body.startswith("# " + TITLE + "\n")
    assert since_first(r) == 400 and action(r) == 81


@pytest.mark.parametrize("info", ["/c", "/bb", "/bb-2/x", "/A", "/../a",
                                  "/" + "a" * 5000])
def test_unknown_dispute_is_51(tmp_path, info):
    r = run("2024-10-05", write(tmp_path, TWO), info)
    assert (r.status, r.meta) == (51, "No such dispute")


def test_links_between_pages_use_script_name(tmp_path):
    data = write(tmp_path, TWO)
    r = run("2024-10-05", data, SCRIPT_NAME="/cgi-bin/strike")
    assert "=> /cgi-bin/strike/bb-2 Counter for this dispute only\n" \
        in r.body
    r = run("2024-10-05", data, "/a", SCRIPT_NAME="/cgi-bin/strike")
    assert "=> /cgi-bin/strike All disputes\n" in r.body


# A bad data file: 50 FILE:LINE: why (or 40 when it cannot be read).

BASE = dispute()        # six lines; the line under test is line 7

BAD = [
    ("bad date", BASE + "strike = 2024-13-01\n", 7,
     'bad date "2024-13-01"'),
    ("bad date in a range", BASE + "strike = 2024-03-01..2024-02-30\n", 7,
     'bad date "2024-02-30"'),
    ("bad began", BASE.replace("2024-01-01", "2024-1-1"), 3,
     'bad date "2024-1-1"'),
    ("reversed range", BASE + "strike = 2024-03-05..2024-03-01\n", 7,
     "reversed range"),
    ("bad strike form", BASE + "strike = 2024-03-01 to 2024-03-05\n", 7,
     'bad strike flag "to 2024-03-05"'),
    ("weekdays on one day", BASE + "strike = 2024-03-01 weekdays\n", 7,
     "weekdays is for a range"),
    ("unknown key", BASE + "colour = red\n", 7, 'unknown key "colour"'),
    ("unknown global key", "zone = x\n" + BASE, 1, 'unknown key "zone"'),
    ("unknown section", BASE + "[picket]\n", 7, "unknown section [picket]"),
    ("empty unknown section", "[picket]\n" + BASE, 1,
     "unknown section [picket]"),
    ("bad dispute id", BASE + "[dispute Mental Health]\n", 7,
     "bad dispute id"),
    ("dispute given twice", BASE + "[dispute a]\n", 7,
     "dispute a already given on line 1"),
    ("key given twice", BASE + "state = live\n", 7,
     "state already given on line 4"),
    ("bad state", BASE.replace("= live", "= over"), 4, 'bad state "over"'),
    ("missing key", "[dispute a]\ntitle = A\nstate = live\n"
     "factsheet = /a.gmi\n", 1, "dispute a has no began"),
    ("empty dispute", BASE + "[dispute b]\n", 7, "dispute b has no title"),
    ("strike before began", BASE + "strike = 2023-12-31\n", 7,
     "strike before the dispute began"),
    ("ended but live", BASE + "ended = 2024-02-01\n", 7,
     "ended is for a settled dispute"),
    ("strike after ended", dispute(state="settled") +
     "ended = 2024-02-01\nstrike = 2024-02-02\n", 8,
     "strike after the dispute ended"),
    ("strike after suspended", dispute(state="suspended") +
     "suspended = 2024-02-01\nstrike = 2024-01-30..2024-02-02\n", 8,
     "strike after the dispute was suspended"),
    ("ended before began", dispute(state="settled") + "ended = 2023-02-01\n",
     7, "ended before it began"),
    ("syntax error", BASE + "strike\n", 7, "syntax error"),
    ("unclosed section", BASE + "[dispute b\n", 7, "syntax error"),
    ("indented line", BASE + "  strike = 2024-03-01\n", 7,
     "line starts with white space"),
    ("long line", BASE + "title = " + "x" * 300 + "\n", 7,
     "line longer than"),
    ("NUL byte", BASE + "strike = 2024-\0\n", 7, "NUL byte"),
    ("title not UTF-8", BASE.replace("Dispute A", "Caf\xe9"), 2,
     "title is not UTF-8"),
    ("control character", BASE.replace("Dispute A", "A\x07"), 2,
     "control character in title"),
    ("space in factsheet", BASE.replace("/disputes/a.gmi", "/a b.gmi"), 5,
     "white space in factsheet"),
    ("unknown timezone", "timezone = Europe/Lundon\n" + BASE, 1,
     'unknown timezone "Europe/Lundon"'),
    ("timezone outside zoneinfo", "timezone = ../../etc/passwd\n" + BASE, 1,
     "bad timezone"),
    # glibc would read this as UTC without a word: the offset is missing
    ("timezone rule without an offset",
     "timezone = GMTBST,M3.5.0/1,M10.5.0\n" + BASE, 1, "bad timezone rule"),
    # asof: what the page says of the present, no source said yet
    ("missing asof", BASE.replace("asof = 2999-12-31\n", ""), 1,
     "dispute a has no asof"),
    ("asof before began", dispute(asof="2023-12-31"), 6,
     "asof before the dispute began"),
    ("suspended after asof", dispute(state="suspended", asof="2024-02-01") +
     "suspended = 2024-02-02\n", 7, "suspended after asof"),
    ("ended after asof", dispute(state="settled", asof="2024-02-01") +
     "ended = 2024-02-02\n", 7, "ended after asof"),
    ("announced after asof", dispute(asof="2024-02-01") +
     "strike = 2024-03-01 announced 2024-02-02\n", 7,
     "announced after asof"),
    # announced and cancelled: when a block was known, and called off
    ("announced after the first day",
     BASE + "strike = 2024-03-01..2024-03-05 announced 2024-03-02\n", 7,
     "announced after its first day"),
    ("cancelled without announced",
     BASE + "strike = 2024-03-01 cancelled 2024-02-01\n", 7,
     "cancelled needs announced"),
    ("cancelled before announced", BASE +
     "strike = 2024-03-01 announced 2024-02-10 cancelled 2024-02-01\n", 7,
     "cancelled before it was announced"),
    ("cancelled after the first day", BASE +
     "strike = 2024-03-01..2024-03-05 announced 2024-02-10 "
     "cancelled 2024-03-02\n", 7, "cancelled after its first day"),
    ("cancelled after asof", dispute(asof="2024-02-20") +
     "strike = 2024-03-01 announced 2024-02-10 cancelled 2024-02-21\n", 7,
     "cancelled after asof"),
    ("bad announced date", BASE + "strike = 2024-03-01 announced 2024-02-30\n",
     7, 'bad date "2024-02-30"'),
    ("announced without a date", BASE + "strike = 2024-03-01 announced\n", 7,
     'bad date ""'),
    ("flags out of order",
     BASE + "strike = 2024-03-01..2024-03-05 announced 2024-02-01 "
     "weekdays\n", 7, 'bad strike flag "weekdays"'),
]


@pytest.mark.parametrize("text,lineno,why", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_data_file_is_50_naming_file_and_line(tmp_path, text, lineno,
                                                  why):
    raw = text.encode("latin-1") if "\xe9" in text else text.encode()
    data = write(tmp_path, raw)
    r = run("2024-10-05", data)
    assert r.status == 50
    assert r.meta.startswith(f"{data}:{lineno}: {why}"), r.meta


def test_missing_data_file_is_40_naming_the_file(tmp_path):
    r = run("2024-10-05", tmp_path / "nothing.ini")
    assert r.status == 40
    assert r.meta == f"{tmp_path}/nothing.ini: No such file or directory"


def test_unreadable_data_file_is_40_naming_the_file(tmp_path):
    r = run("2024-10-05", tmp_path)     # a directory opens, but won't read
    assert r.status == 40
    assert r.meta == f"{tmp_path}: read error"


def test_default_data_file_is_relative_to_the_scripts_directory(tmp_path):
    assert run("2024-10-05").status == 20
    r = run("2024-10-05", cwd=tmp_path)
    assert r.status == 40
    assert r.meta.startswith("../.data/disputes.ini: ")


def test_bad_strike_today_is_50():
    r = run("2024-02-30")
    assert (r.status, r.meta) == (50, 'STRIKE_TODAY: bad date "2024-02-30"')


def test_an_empty_file_lists_no_disputes(tmp_path):
    r = run("2024-10-05", write(tmp_path, ""))
    assert r.status == 20
    assert "No disputes are listed." in r.body


def test_header_stays_within_1024_bytes_and_printable(tmp_path):
    # a long path and a hostile value: the meta is cut and cleaned, and run()
    # checks the header's form
    deep = tmp_path / ("d" * 200) / ("e" * 200) / ("f" * 200)
    deep.mkdir(parents=True)
    data = write(deep, BASE + "strike = \x1b[2J\r" + "9" * 150 + "\n")
    r = run("2024-10-05", data)
    assert r.status == 50
    assert all(0x20 <= ord(c) < 0x7f for c in r.meta)
    assert ":7: bad strike" in r.meta
    r = run("2024-10-05", str(tmp_path / ("x" * 250)) * 10)
    assert r.status == 40


def test_shipped_data_file_is_valid():
    r = run("2024-10-05", DATA)
    assert r.status == 20
