"""
What the documentation shows must be what capsuled does: every key the
parser knows is documented in capsuled.ini(5) and the annotated sample,
and the examples follow the manuals' own advice.  Read from the files
anyone installs (man/, etc/, README.md, docs/).
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "man" / "capsuled.ini.5", ROOT / "man" / "capsuled.8",
        ROOT / "etc" / "capsuled.ini", ROOT / "README.md",
        ROOT / "docs" / "scaling.md"]
# a FILE that is a path (README's "access = /members/ FILE" is not one)
RULE = re.compile(r"\b(access|titan)\s*=\s*(/\S*)\s+([\w./-]*/[\w.-]+)")


def config_keys():
    """Every key config.c accepts: the tables and the names it compares."""
    src = (ROOT / "src" / "config.c").read_text()
    keys = set(re.findall(r'\{ "([a-z_]+)", -?\d', src))
    keys |= set(re.findall(r'strcmp\(name, "([a-z_]+)"\)', src))
    return keys - {"server"}    # a section's name, compared alike


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_fingerprint_lists_have_a_directory_of_their_own(doc):
    # issue 19.17: capsuled.ini(5) says workers may read every file in a
    # list's directory, so give lists a directory of their own; its own
    # examples put them in /etc/capsuled/, beside the keys
    for kind, path, file in RULE.findall(doc.read_text()):
        parent = str(Path(file).parent)
        assert parent not in ("/etc/capsuled", "/etc", "."), \
            f"{doc.name}: {kind} = {path} {file}: beside the keys"


@pytest.mark.parametrize("key", sorted(config_keys()))
def test_every_key_is_documented(key):
    man = (ROOT / "man" / "capsuled.ini.5").read_text()
    sample = (ROOT / "etc" / "capsuled.ini").read_text()
    assert re.search(rf"^\.It Ic {key}\b", man, re.M), \
        f"{key}: not in capsuled.ini(5)"
    if key.startswith("titan"):     # the sample shows every Titan key
        assert re.search(rf"^;?{key}\s*=", sample, re.M), \
            f"{key}: not in etc/capsuled.ini"
