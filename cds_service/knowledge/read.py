"""Reading one knowledge file: strict YAML, then its pydantic model, failing with file and field.

Every defect becomes a ``KnowledgeError`` whose message starts with the file name, so the
operator who reads it at start-up (or in ``cds-service check-knowledge``) knows where to look.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cds_service.errors import KnowledgeError

T = TypeVar("T", bound=BaseModel)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_Identified)


# libyaml's parser when PyYAML has it (it does on every platform with a wheel): the knowledge
# base loads in a third of the time, which every start-up and command pays.
_SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _StrictLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """A safe loader that refuses a key given twice in one mapping: plain YAML keeps the last
    silently, so a second ``verified:`` or ``bands:`` would quietly replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError as exc:
        raise KnowledgeError(f"{path}: file is missing") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: not valid YAML: {exc}") from exc


def parse(path: Path, model: type[T]) -> T:
    """The file at ``path`` as ``model``; the first schema error names file and field."""
    try:
        return model.model_validate(read_yaml(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise KnowledgeError(
            f"{path.name}: {where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from exc


def unique(items: Iterable[ItemT], file: str, kind: str) -> dict[str, ItemT]:
    """Items by id; a second item with the same id fails naming the file."""
    result: dict[str, ItemT] = {}
    for item in items:
        if item.id in result:
            raise KnowledgeError(f"{file}: duplicate {kind} id {item.id!r}")
        result[item.id] = item
    return result
