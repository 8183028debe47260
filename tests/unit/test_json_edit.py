"""`json_edit.set_value` and the config edit built on it: only the edited value's bytes change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from layer_tasks.project.chalice_config import set_stage_layers
from layer_tasks.util.json_edit import set_value

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:7"
OLD = "arn:aws:lambda:us-east-1:123456789012:layer:deps:6"

# Literals json.loads reads and json.dumps would write differently (or not at all).
ODD = """{
  "big": 1e999,
  "small": -1E-999,
  "kilo": 1E3,
  "neg_zero": -0.0,
  "long": 12345678901234567890123456789,
  "escaped": "caf\\u00e9 \\ud83d\\ude00 \\/ \\ud800",
  "z_before_a": {"z": 1, "a": [1,2 ,3]},
  "stages": {
    "prod": {
      "api_gateway_stage": "api",
      "layers": [
        "OLD"
      ],
      "memory": 1.50
    }
  },
  "automatic_layer": true,
  "tail": 0.1e1
}
""".replace("OLD", OLD)


def test_update_config_keeps_odd_numbers_escapes_and_key_order(tmp_path: Path) -> None:
    """Row `update-config-keeps-other-bytes`: 1e999, 1E3, \\u escapes (a lone surrogate
    among them), key order and hand-made spacing keep their bytes; only the two values
    change."""
    path = tmp_path / "config.json"
    path.write_text(ODD, encoding="utf-8")

    set_stage_layers(path, "prod", [ARN])

    want = ODD.replace(OLD, ARN).replace('"automatic_layer": true', '"automatic_layer": false')
    assert path.read_text(encoding="utf-8") == want


def test_update_config_on_a_file_with_a_lone_surrogate_escape(tmp_path: Path) -> None:
    """ "\\udc80" in a file that also holds non-ASCII text is kept as those six characters
    (dumping the parsed file again wrote a raw surrogate: UnicodeEncodeError)."""
    path = tmp_path / "config.json"
    text = '{"app_name": "앱 \\udc80", "stages": {"prod": {}}}\n'
    path.write_text(text, encoding="utf-8")

    set_stage_layers(path, "prod", [ARN])

    assert path.read_text(encoding="utf-8") == (
        '{"app_name": "앱 \\udc80", "stages": {"prod": {"layers": ["ARN"]}}, '
        '"automatic_layer": false}\n'.replace("ARN", ARN)
    )


def test_set_value_inserts_into_an_indented_object_as_dumps_would() -> None:
    data = {"a": {"b": {"x": 1}}, "c": []}
    text = json.dumps(data, indent=4)
    out = set_value(text, ["a", "b", "new"], {"k": [1, 2]})
    data["a"]["b"]["new"] = {"k": [1, 2]}  # type: ignore[index]
    assert out == json.dumps(data, indent=4)


def test_set_value_creates_missing_objects_along_the_path() -> None:
    out = set_value('{"a": 1}', ["x", "y"], True)
    assert out == '{"a": 1, "x": {"y": true}}'


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@hsettings(max_examples=200, deadline=None)
@given(
    doc=st.dictionaries(st.text(max_size=4), JSON, max_size=4),
    keys=st.lists(st.sampled_from(["a", "b", "é"]), min_size=1, max_size=3),
    value=JSON,
    indent=st.sampled_from([None, 2, "\t"]),
    ensure_ascii=st.booleans(),
)
def test_set_value_changes_the_value_and_nothing_else(
    doc: dict[str, Any], keys: list[str], value: Any, indent: Any, ensure_ascii: bool
) -> None:
    # Make the path walkable: every key but the last names an object.
    node = doc
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    text = json.dumps(doc, indent=indent, ensure_ascii=ensure_ascii)

    out = set_value(text, keys, value)

    node[keys[-1]] = value
    assert json.loads(out) == doc
    # A file as dumps writes it comes out as dumps writes the new document. (An empty
    # top-level object shows no indentation to copy; a non-ASCII file's new text is
    # not compared, since the file's own escaping is kept, which dumps does not know.)
    if ensure_ascii and text != "{}":
        assert out == json.dumps(doc, indent=indent)
