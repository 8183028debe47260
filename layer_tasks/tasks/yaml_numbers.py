"""Numbers as they are written in a YAML configuration file.

Invoke reads ``invoke.yaml`` with its copy of PyYAML, which follows YAML 1.1: ``1_0`` is 10,
``0x10`` is 16, ``0b101`` is 5, ``010`` is 8 (octal) and ``1:30`` is 90 (base 60). The
settings only see the number, so the one rule for numbers (`config.validate`: ASCII
digits that mean what they say) is applied here to the text of each numeric ``layer.*``
value, before it is used.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from layer_tasks.errors import LayerError
from layer_tasks.util.bounds import MAX_TEXT_FILE_BYTES

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# What a number's text may be here: no leading zero (YAML's octal), no '_', no base 60,
# no exponent (the one rule: config/validate.py).
# A '-' stays (YAML's -5 is -5, and the range check names it); not '-0', not '+'.
# .inf and .nan are left to the settings' own check (not a finite number).
_PLAIN = {
    _INT_TAG: re.compile(r"0|-?[1-9][0-9]*"),
    _FLOAT_TAG: re.compile(r"-?([0-9]+\.[0-9]*|\.[0-9]+)|-?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"),
}


def check_number_forms(path: Path, keys: Collection[str]) -> None:
    """`LayerError` naming the key and the file when a numeric ``layer.<key>`` of the
    YAML file ``path`` is written in a form that YAML reads as another number."""
    from invoke.util import yaml

    try:
        if path.stat().st_size > MAX_TEXT_FILE_BYTES:
            return  # the start-up check refuses it (tasks/_startup.py)
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return  # Invoke has read it already, or said why it could not
    layer = _value_of(root, "layer") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(layer, yaml.MappingNode):
        return
    for key, value in _entries(layer, yaml):
        plain = _PLAIN.get(getattr(value, "tag", ""))
        if (
            key in keys
            and isinstance(value, yaml.ScalarNode)
            and plain is not None  # a number: plain, or quoted with !!int / !!float
            and not plain.fullmatch(value.value)
        ):
            raise LayerError(
                f"layer.{key} is written {value.value} in {path}, which YAML reads as "
                f"{_read(value, yaml)}: write the number in plain digits"
            )


def _read(node: Any, yaml: Any) -> str:
    """The number YAML makes of ``node`` (what the settings would have seen)."""
    try:
        return repr(yaml.SafeLoader("").construct_object(node))
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        return "another number"


def _entries(mapping: Any, yaml: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """A mapping's (key, value) pairs, with those a merge key (``<<: *defaults``) brings
    in: YAML copies them into the mapping, so Invoke sees them as ``layer.*`` values."""
    for key_node, value in mapping.value:
        if key_node.tag == _MERGE_TAG and depth < 20:
            merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for each in merged:
                if isinstance(each, yaml.MappingNode):
                    yield from _entries(each, yaml, depth + 1)
        elif isinstance(key_node, yaml.ScalarNode):
            yield key_node.value, value


def _value_of(mapping: Any, name: str) -> Any:
    for key_node, value in mapping.value:
        if getattr(key_node, "value", None) == name:
            return value
    return None
