"""Loading files: every mistake is one line naming the file, the line and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from valign.values import ConstitutionError, load_constitution, load_overlay
from valign.values.load import bundled_constitutions, bundled_overlays, load_file
from valign.values.schema import Constitution, Overlay

from .conftest import OVERLAY, SMALL

Write = Callable[..., Path]


def error_for(path: Path, loader: Callable[[Path], object] = load_constitution) -> str:
    with pytest.raises(ConstitutionError) as info:
        loader(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_small_constitution_loads(write: Write) -> None:
    constitution = load_constitution(write())
    assert constitution.principle_ids == ["be_kind", "be_discreet"]
    assert constitution.principle("be_discreet").examples[0].verdict == "follows"


def test_bundled_names() -> None:
    assert "default" in bundled_constitutions()
    assert "eu" in bundled_overlays()
    assert load_constitution("default").name == "valign default"
    assert isinstance(load_overlay("eu"), Overlay)


def test_unknown_category_names_file_line_and_field(write: Write) -> None:
    path = write(replace={23: "      - privcy"})
    assert error_for(path) == (
        f"{path}:23: principles[1].categories[0]: unknown category 'privcy' "
        "(known: privacy, violence)"
    )


def test_unknown_category_in_flow_list(write: Write) -> None:
    path = write(replace={16: "    categories: [violnce]"})
    assert error_for(path).startswith(f"{path}:16: principles[0].categories[0]: unknown category")


def test_bundled_file_is_labelled_by_its_file_name() -> None:
    with pytest.raises(ConstitutionError, match=r"^no bundled constitution named 'nope'"):
        load_constitution("nope")


def test_yaml_syntax_error_has_line(write: Write) -> None:
    path = write(replace={14: "    text: Be: kind."})
    assert error_for(path) == (f"{path}:14: YAML syntax error: mapping values are not allowed here")


def test_unclosed_flow_list_is_a_syntax_error(write: Write) -> None:
    message = error_for(write(replace={16: "    categories: [violence"}))
    assert "YAML syntax error" in message
    assert ":17:" in message or ":16:" in message


def test_duplicate_yaml_key(write: Write) -> None:
    path = write(replace={15: "    text: Be gentle."})
    assert error_for(path) == f"{path}:15: text: given twice (first on line 14)"


def test_unknown_field(write: Write) -> None:
    lines = SMALL.splitlines()
    lines.insert(14, "    colour: red")  # becomes line 15
    path = write("\n".join(lines))
    assert error_for(path).startswith(
        f"{path}:15: principles[0].colour: unknown field (allowed: id, text, source,"
    )


def test_misspelt_field_suggests_the_right_one(write: Write) -> None:
    path = write(replace={15: "    sourse: Test suite"})
    assert error_for(path) == (
        f"{path}:15: principles[0].sourse: unknown field (did you mean 'source'? allowed: "
        "id, text, source, categories, critique_request, revision_request, examples)"
    )


def test_missing_field_points_at_its_parent(write: Write) -> None:
    path = write(replace={17: None})
    assert error_for(path) == f"{path}:13: principles[0]: missing field 'critique_request'"


def test_missing_top_level_field(write: Write) -> None:
    path = write(replace={4: None})
    assert error_for(path) == f"{path}:1: missing field 'refusal_message'"


def test_wrong_type(write: Write) -> None:
    path = write(replace={16: "    categories: violence"})
    assert error_for(path) == (
        f"{path}:16: principles[0].categories: input should be a valid list, got 'violence'"
    )


def test_unquoted_version_hints_at_quoting(write: Write) -> None:
    path = write(replace={2: "version: 1.0"})
    assert error_for(path) == (
        f"{path}:2: version: input should be a valid string, got 1.0 (quote it in YAML)"
    )


def test_bad_verdict(write: Write) -> None:
    path = write(replace={29: "        verdict: maybe"})
    message = error_for(path)
    assert message.startswith(f"{path}:29: principles[1].examples[0].verdict: input should be")
    assert "'maybe'" in message


def test_id_must_be_snake_case(write: Write) -> None:
    path = write(replace={13: "  - id: Be-Kind"})
    assert error_for(path).startswith(f"{path}:13: principles[0].id: ids are snake_case")


def test_duplicate_principle_id(write: Write) -> None:
    path = write(replace={19: "  - id: be_kind"})
    assert error_for(path) == f"{path}:19: principles[1].id: duplicate principle id 'be_kind'"


def test_duplicate_category_id(write: Write) -> None:
    path = write(replace={9: "  - id: violence"})
    assert error_for(path) == f"{path}:9: categories[1].id: duplicate category id 'violence'"


def test_first_error_in_file_order_and_count_of_the_rest(write: Write) -> None:
    path = write(replace={2: "version: 2", 14: "    text: 3"})
    message = error_for(path)
    assert message.startswith(f"{path}:2: version:")
    assert message.endswith("(and 1 more)")


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert error_for(path) == f"{path}: no such file"


def test_empty_file(write: Write) -> None:
    path = write("")
    assert error_for(path) == f"{path}: empty file"


def test_file_with_only_comments_is_empty(write: Write) -> None:
    path = write("# nothing here\n")
    assert error_for(path) == f"{path}: empty file"


def test_top_level_must_be_a_mapping(write: Write) -> None:
    path = write("- a\n- b\n")
    assert error_for(path).startswith(f"{path}:1: expected a mapping with the fields name,")


def test_overlay_file_is_not_a_constitution(write: Write) -> None:
    path = write(OVERLAY)
    assert error_for(path) == (
        f"{path}:1: expected a constitution file, but its fields make it an overlay"
    )
    assert error_for(write(), load_overlay).endswith(
        "expected an overlay file, but its fields make it a constitution"
    )


def test_overlay_errors_have_lines(write: Write) -> None:
    path = write(OVERLAY + "remove_categories: [privacy, privacy]\n")
    assert error_for(path, load_overlay) == (
        f"{path}:4: remove_categories[1]: category id 'privacy' appears twice"
    )


def test_load_file_detects_the_kind(write: Write) -> None:
    assert isinstance(load_file(write()), Constitution)
    assert isinstance(load_file(write(OVERLAY, name="o.yaml")), Overlay)


def test_error_in_a_copy_of_the_bundled_file(tmp_path: Path) -> None:
    text = bundled_constitutions()["default"].read_text(encoding="utf-8")
    text = text.replace("categories: [misinformation]", "categories: [misinfo]", 1)
    line = text.splitlines().index("    categories: [misinfo]") + 1
    path = tmp_path / "default.yaml"
    path.write_text(text, encoding="utf-8")
    index = load_constitution("default").principle_ids.index("be_honest")
    message = error_for(path)
    assert message.startswith(
        f"{path}:{line}: principles[{index}].categories[0]: unknown category 'misinfo' (known: "
    )
