from __future__ import annotations

import json

from engine.telemetry.nezha_files import log_template, parse_log_message, service_of
from engine.telemetry.profiles import statement_of


def test_pod_names_map_to_services():
    assert service_of("ts-contacts-service-866bd68c97-xcqfx") == "ts-contacts-service"
    assert service_of("frontend-579b9bff58-t2dbm") == "frontend"
    assert service_of("redis") == "redis"


def test_java_log_line_keeps_its_code_location_and_masks_values():
    raw = json.dumps({"log": "16:42:22.382 INFO  t.s.TravelServiceImpl#532 TraceID: ab12 SpanID: cd34 "
                             "[getRoute][Route id: f3d4d4ef-693b-4456-8eed-59c0d717dd08, distance 50]\n"})
    level, message = parse_log_message(raw)
    template = log_template(message)
    assert level == "INFO"
    assert template == "INFO t.s.TravelServiceImpl#532 [getRoute][Route id: <id>, distance <n>]"
    assert statement_of(template) == "t.s.TravelServiceImpl#532"


def test_nested_json_log_uses_its_severity():
    inner = json.dumps({"message": "TraceID: 02 SpanID: f8 List products end 12", "severity": "error"})
    level, message = parse_log_message(json.dumps({"log": inner + "\n"}))
    assert level == "ERROR"
    assert log_template(message) == "List products end <n>"
    assert statement_of("List products end <n>") == "List products end <n>"
