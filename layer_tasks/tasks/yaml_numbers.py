"""Numbers as they are written in a YAML configuration file.

Invoke reads ``invoke.yaml`` with its copy of PyYAML, which follows YAML 1.1: ``1_0`` is 10,
``0x10`` is 16, ``0b101`` is 5, ``010`` is 8 (octal) and ``1:30`` is 90 (base 60). The
settings only see the number, so the one rule for numbers (`config.validate`: ASCII
digits that mean what they say) is applied here to the text of each numeric ``layer.*``
value, before it is used.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from layer_tasks.errors import LayerError
from layer_tasks.util.bounds import MAX_TEXT_FILE_BYTES

# What a number's text may be here: no leading zero (YAML's octal), no '_', no base 60,
# no exponent (the one rule: config/validate.py).
# A '-' stays (YAML's -5 is -5, and the range check names it); not '-0', not '+'.
# .inf and .nan are left to the settings' own check (not a finite number). A float
# written as a whole number with !!float (5) is the same number.
_PLAIN_INT = re.compile(r"0|-?[1-9][0-9]*")
_PLAIN_FLOAT = re.compile(
    r"-?([0-9]+\.[0-9]*|\.[0-9]+)|0|-?[1-9][0-9]*|-?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


class _WrittenInt(int):
    """An int that remembers how the file wrote it."""

    text: str


class _WrittenFloat(float):
    text: str


def check_number_forms(path: Path, keys: Collection[str]) -> None:
    """`LayerError` naming the key and the file when a numeric ``layer.<key>`` of the
    YAML file ``path`` is written in a form that YAML reads as another number.

    The file is read as Invoke reads it (PyYAML's safe loader: the last of two ``layer:``
    keys wins, merge keys copy values in, tags make text a number), with the loader's
    numbers keeping their text: what is checked is the value Invoke will use."""
    from invoke.util import yaml

    try:
        if path.stat().st_size > MAX_TEXT_FILE_BYTES:
            return  # the start-up check refuses it (tasks/_startup.py)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader(yaml))
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return  # Invoke has read it already, or said why it could not
    layer = data.get("layer") if isinstance(data, dict) else None
    if not isinstance(layer, dict):
        return
    for key in keys:
        value = layer.get(key)
        if isinstance(value, _WrittenInt) and not _PLAIN_INT.fullmatch(value.text):
            read: object = int(value)
        elif isinstance(value, _WrittenFloat) and not _PLAIN_FLOAT.fullmatch(value.text):
            read = float(value)
        else:
            continue
        raise LayerError(
            f"layer.{key} is written {value.text} in {path}, which YAML reads as "
            f"{read!r}: write the number in plain digits"
        )


def _loader(yaml: Any) -> Any:
    """PyYAML's safe loader, whose ints and floats remember their text."""

    class Loader(yaml.SafeLoader):
        pass

    def construct_int(loader: Any, node: Any) -> _WrittenInt:
        number = _WrittenInt(yaml.SafeLoader.construct_yaml_int(loader, node))
        number.text = node.value
        return number

    def construct_float(loader: Any, node: Any) -> _WrittenFloat:
        number = _WrittenFloat(yaml.SafeLoader.construct_yaml_float(loader, node))
        number.text = node.value
        return number

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    Loader.add_constructor("tag:yaml.org,2002:float", construct_float)
    return Loader
