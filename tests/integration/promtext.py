"""A small reader of the Prometheus text exposition format (0.0.4), enough for the metrics tests:
families with their type and the label names of their samples, and the samples themselves."""
import re
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class families(dict):
    """name -> {"type": str, "help": str, "labels": set of label-name tuples,
    "samples": [(labels, value)]}"""


def parse(text):
    out = families()
    for line in text.splitlines():
        if line.startswith("# TYPE ") or line.startswith("# HELP "):
            _, what, name, text = (line.split(" ", 3) + [""])[:4]
            fam = out.setdefault(name, {"type": None, "labels": set(), "samples": []})
            fam["type" if what == "TYPE" else "help"] = text
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        name, labels = m.group(1), dict(LABEL.findall(m.group(3) or ""))
        fam = out.get(name)
        if fam is None:  # a summary's _sum/_count or histogram's _bucket line
            base = re.sub(r"_(sum|count|bucket)$", "", name)
            fam = out.setdefault(base, {"type": None, "labels": set(), "samples": []})
        fam["labels"].add(tuple(sorted(labels)))
        fam["samples"].append((labels, float(m.group(4))))
    return out


def scrape(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        assert r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"]
        return parse(r.read().decode())


def value(fams, name, **labels):
    """The one sample of `name` whose labels include `labels` (a KeyError if none)."""
    for lab, v in fams[name]["samples"]:
        if all(lab.get(k) == want for k, want in labels.items()):
            return v
    raise KeyError(f"{name}{labels}")
