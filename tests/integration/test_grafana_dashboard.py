"""contrib/grafana/switchyard.json names only series a running switchyard serves: every PromQL
expression of its panels and template variables is parsed for metric names, and each one must be
a family of /metrics or /metrics/per-object (switchyard with AMQP and a metrics.topics topic, so
every optional family is on)."""
import json
import os
import re

import pytest

from conftest import ROOT, server
from promtext import scrape

DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "switchyard.json")
CLAUSE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "offset", "bool", "inf", "nan"}


def expressions(node):
    """Every PromQL string of the dashboard: panel targets' expr and query variables."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("expr", "definition") and isinstance(v, str):
                yield v
            else:
                yield from expressions(v)
    elif isinstance(node, list):
        for v in node:
            yield from expressions(v)


def metric_names(expr):
    """The metric names an expression selects (label_values(m, l) names m)."""
    names = set()
    for m in re.finditer(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,", expr):
        names.add(m.group(1))
    expr = re.sub(r"label_values\([^)]*\)", " ", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals ($variables live there)
    expr = re.sub(r"\{[^}]*\}", " ", expr)           # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)          # range and subquery durations
    expr = CLAUSE.sub(" ", expr)                      # grouping label lists
    for m in IDENT.finditer(expr):
        rest = expr[m.end():].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue  # a function or an operator keyword
        names.add(word)
    return names


def test_parser_finds_names_and_skips_functions_and_labels():
    e = ('sum by(vhost) (rate(rabbitmq_global_messages_received_total{protocol="amqp091"}[1m])'
         ' * on(instance) group_left(rabbitmq_cluster) rabbitmq_identity_info'
         '{rabbitmq_cluster="$rabbitmq_cluster"})')
    assert metric_names(e) == {"rabbitmq_global_messages_received_total", "rabbitmq_identity_info"}
    assert metric_names("label_values(rabbitmq_identity_info, rabbitmq_cluster)") == \
        {"rabbitmq_identity_info"}


@pytest.fixture(scope="module")
def served():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0",
                "--metrics-topic", "news"], need=("http", "amqp"))
    try:
        names = set(scrape(s.url + "/metrics")) | set(scrape(s.url + "/metrics/per-object"))
    finally:
        s.close()
    return names


def test_every_expression_names_only_served_series(served):
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = list(expressions(dash))
    assert len(exprs) >= 30
    used = set()
    for e in exprs:
        names = metric_names(e)
        assert names, f"no metric in {e!r}"
        missing = names - served
        assert not missing, f"{e!r} names {sorted(missing)}, not served"
        used |= names
    # The dashboard covers what issue 11 asks to graph.
    for want in ["rabbitmq_identity_info", "rabbitmq_queue_messages_ready",
                 "rabbitmq_global_messages_delivered_total", "sy_hub_subscribers",
                 "sy_hub_topic_publishes_total", "sy_grpc_calls_total", "sy_h2_resets_total",
                 "sy_listener_accept_queue_depth", "sy_loop_lag_seconds"]:
        assert want in used, want
