#!/usr/bin/python3
"""gemlint: check a capsule's gemtext before capsuled serves it.

    /usr/bin/python3 tests/gemlint.py [--cgi NAME]... ROOT...

Prints one "file:line: message" per problem and exits 1 if there were
any, 0 if the capsule is clean, 2 on a usage error.  Standard library
only, so it runs wherever the daemon's tests run.

Every .gmi/.gemini file under ROOT whose path has no component starting
with '.' is checked for:
  - valid UTF-8, no byte order mark, no CR (gemtext lines end in LF here);
  - no leading whitespace on a line (a " => x" line is text, not a link;
    any other indented text line is a hard-wrap leftover);
  - link lines with a target;
  - ``` preformat toggles that are closed again;
  - dated files (YYYY-MM-DD-slug.gmi, which capsuled lists in its
    generated gemfeed index) have a real date and a "# " heading on the
    first line, and their directory has no hand-written index.gmi that
    would hide the generated one;
  - relative links (and root-relative /x) that resolve to something the
    server serves (see served()).  Absolute links (gemini://, https://,
    mailto: ...) are not fetched;
  - the generated-block marker, a line of its own exactly of the form
        <!-- capsuled:latest N DIR [DIR...] -->
    (capsuled replaces it with the newest N posts of the DIRs: N from 1
    to 999, each DIR a directory of dated posts).  Any other line that
    starts with "<!--" would reach readers raw, so it is an error.
"""
import datetime
import os
import re
import stat
import sys
from urllib.parse import unquote_to_bytes

GEMTEXT = (".gmi", ".gemini")
DATED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-[^/]+\.(gmi|gemini)$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# CGI scripts the build makes (Makefile: capsule/cgi-bin/strike); links to
# them are good before `make` has run.
BUILT_CGI = {"strike"}
# The generated block's marker (capsuled.ini(5), "latest"): one space
# between the parts, no other white space, nothing else on the line.
MARKER = re.compile(r"^<!-- capsuled:latest ([1-9][0-9]{0,2})"
                    r"((?: [A-Za-z0-9_-][A-Za-z0-9._-]*)+) -->$")


class Lint:
    def __init__(self, root, cgi=()):
        self.root = os.path.abspath(root)
        self.real = os.path.realpath(root)
        self.shown = root.rstrip("/") or "/"
        self.cgi = set(BUILT_CGI) | set(cgi)
        self.problems = []

    def report(self, path, line, msg):
        rel = os.path.relpath(path, self.root)
        self.problems.append((os.path.join(self.shown, rel), line, msg))

    # --- what capsuled serves -------------------------------------------

    def _node(self, parts):
        """lstat of root/parts, following no link out of the root."""
        path = os.path.join(self.root, *parts) if parts else self.root
        try:
            real = os.path.realpath(path)
            if real != self.real and not real.startswith(self.real + os.sep):
                return None
            return os.stat(path)
        except (OSError, ValueError):
            return None

    def is_dir(self, parts):
        st = self._node(parts)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def is_file(self, parts):
        st = self._node(parts)
        return st is not None and stat.S_ISREG(st.st_mode)

    def has_dated(self, parts):
        try:
            names = os.listdir(os.path.join(self.root, *parts))
        except OSError:
            return False
        return any(DATED.match(n) and self.is_file(parts + [n])
                   for n in names)

    def served(self, parts, slash):
        """None if the server answers 20 for this decoded path, else why
        not.  parts: decoded segments; slash: the URL ends in '/'."""
        if any(p.startswith(".") for p in parts):
            return "names a dotfile or dot directory, which is never served"
        if parts and parts[0] == "cgi-bin":
            if len(parts) < 2:
                return "names no CGI script under /cgi-bin/"
            name = parts[1]
            if name in self.cgi or self.is_file(["cgi-bin", name]):
                return None
            return "no CGI script cgi-bin/%s" % name
        if slash:
            if self.is_dir(parts):
                return None
            return "no directory %s/" % "/".join(parts) if parts else None
        if self.is_file(parts):
            return None
        if self.is_dir(parts):
            return ("names a directory without the trailing slash "
                    "(link to /%s/)" % "/".join(parts))
        if (len(parts) >= 1 and parts[-1] == "atom.xml" and
                self.is_dir(parts[:-1]) and self.has_dated(parts[:-1])):
            return None
        if (parts and parts[-1] in ("index.gmi", "index.gemini") and
                self.is_dir(parts[:-1])):
            return ("no %s here (the index is generated: link to "
                    "the directory, %s/)" % (parts[-1], "/".join(parts[:-1])))
        return "no such file %s" % "/".join(parts)

    # --- link resolution ---------------------------------------------------

    def check_link(self, path, lineno, base, target):
        """base: the URL path of the page ("/", "/news/x.gmi")."""
        if SCHEME.match(target) or target.startswith("//"):
            return  # absolute: not ours to fetch
        ref = target.split("#", 1)[0].split("?", 1)[0]
        if ref == "":
            return  # same document
        if ref.startswith("/"):
            url = ref
        else:
            url = base[:base.rfind("/") + 1] + ref
        # RFC 3986 5.2.4 on the raw segments, then decode each segment
        # on its own: %2F never becomes a separator, %2E%2E is a name.
        out = []
        for seg in url.split("/")[1:]:
            if seg == ".":
                continue
            if seg == "..":
                if not out:
                    self.report(path, lineno,
                                "link %s climbs above the root" % target)
                    return
                out.pop()
                continue
            out.append(seg)
        slash = url.endswith("/") or url.endswith("/.") or \
            url.endswith("/..")
        if slash and out and out[-1] == "":
            out.pop()
        parts = []
        for seg in out:
            if re.search(r"%(?![0-9A-Fa-f]{2})", seg):
                self.report(path, lineno,
                            "link %s has a bad percent-escape" % target)
                return
            raw = unquote_to_bytes(seg)
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.report(path, lineno,
                            "link %s decodes to bytes that are not UTF-8"
                            % target)
                return
            if "/" in name or "\0" in name:
                self.report(path, lineno,
                            "link %s encodes '/' or NUL inside a segment"
                            % target)
                return
            if name in (".", ".."):
                self.report(path, lineno,
                            "link %s encodes a dot segment" % target)
                return
            if name == "":
                self.report(path, lineno,
                            "link %s has an empty segment (//)" % target)
                return
            parts.append(name)
        why = self.served(parts, slash)
        if why:
            self.report(path, lineno, "broken link %s: %s" % (target, why))

    # --- one file ----------------------------------------------------------

    def check_marker(self, path, lineno, line):
        m = MARKER.match(line)
        if not m:
            self.report(path, lineno, "'<!--' line is shown raw to readers: "
                        "the only marker is '<!-- capsuled:latest N DIR "
                        "[DIR...] -->' (N 1-999, single spaces)")
            return
        for d in m.group(2).split():
            if not (self.is_dir([d]) and self.has_dated([d])):
                self.report(path, lineno, "marker names %s, which is no "
                            "directory of dated posts" % d)

    def url_of(self, path):
        rel = os.path.relpath(path, self.root).replace(os.sep, "/")
        return "/" + rel

    def check_file(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(b"\xef\xbb\xbf"):
            self.report(path, 1, "starts with a byte order mark")
            data = data[3:]
        base = self.url_of(path)
        name = os.path.basename(path)
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        pre_open = 0
        for n, raw in enumerate(lines, 1):
            if b"\r" in raw:
                self.report(path, n, "CR in line (use LF line ends)")
                raw = raw.replace(b"\r", b"")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                self.report(path, n, "not valid UTF-8 (byte %d)"
                            % (e.start + 1))
                line = raw.decode("utf-8", "replace")
            if line.startswith("```"):
                pre_open = 0 if pre_open else n
                continue
            if pre_open:
                continue
            if line[:1].isspace():
                if line.lstrip().startswith("=>"):
                    self.report(path, n, "whitespace before '=>': this "
                                "is a text line, not a link")
                elif line.strip():
                    self.report(path, n, "text line starts with "
                                "whitespace")
                continue
            if line.startswith("<!--"):
                self.check_marker(path, n, line)
                continue
            if line.startswith("=>"):
                rest = line[2:].strip()
                if not rest:
                    self.report(path, n, "link line has no target")
                    continue
                self.check_link(path, n, base, rest.split()[0])
        if pre_open:
            self.report(path, pre_open, "``` preformatted block opened "
                        "here is never closed")
        m = DATED.match(name)
        if m:
            try:
                datetime.date(int(m.group(1)), int(m.group(2)),
                              int(m.group(3)))
            except ValueError:
                self.report(path, 1, "file name date %s-%s-%s is not a "
                            "real date" % m.group(1, 2, 3))
            first = lines[0].decode("utf-8", "replace") if lines else ""
            if not re.match(r"^# \S", first):
                self.report(path, 1, "dated file must start with a "
                            "'# Title' heading (the feed entry's title)")

    def run(self):
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames
                                 if not d.startswith("."))
            files = sorted(f for f in filenames if not f.startswith("."))
            for f in files:
                if f.endswith(GEMTEXT):
                    self.check_file(os.path.join(dirpath, f))
            dated = [f for f in files if DATED.match(f)]
            for idx in ("index.gmi", "index.gemini"):
                if dated and idx in files:
                    self.report(os.path.join(dirpath, idx), 1,
                                "hand-written index in a dated directory "
                                "hides the generated gemfeed index")
        return self.problems


def main(argv):
    args = argv[1:]
    cgi, roots = [], []
    while args:
        a = args.pop(0)
        if a == "--cgi" and args:
            cgi.append(args.pop(0))
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-"):
            print("usage: gemlint.py [--cgi NAME]... ROOT...",
                  file=sys.stderr)
            return 2
        else:
            roots.append(a)
    if not roots:
        print("usage: gemlint.py [--cgi NAME]... ROOT...", file=sys.stderr)
        return 2
    bad = 0
    for root in roots:
        if not os.path.isdir(root):
            print("%s: not a directory" % root, file=sys.stderr)
            return 2
        for f, n, msg in Lint(root, cgi).run():
            print("%s:%d: %s" % (f, n, msg))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
