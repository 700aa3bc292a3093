"""Parses an OpenMetrics exposition from stdin with the official Prometheus client's
parser (which refuses anything malformed) and prints its samples as JSON: a list of
{"family", "type", "name", "labels", "value"}."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append(
            {
                "family": family.name,
                "type": family.type,
                "name": sample.name,
                "labels": sample.labels,
                "value": sample.value,
            }
        )
json.dump(samples, sys.stdout)
