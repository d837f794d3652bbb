"""Human feedback: a rating web app with a real database, rater quality and export.

``valign feedback serve`` runs :func:`create_app` over a :class:`Store` (SQLite by default,
PostgreSQL supported). Raters compare, rate, write better replies and log red-team
attempts; admins watch agreement and accuracy on gold questions and export
:mod:`valign.records.comparisons` comparisons for the trainers. See ``docs/feedback.md``.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.feedback.human.accounts import add_user, authenticate
    from valign.feedback.human.agreement import krippendorff_alpha, pairwise_kappas
    from valign.feedback.human.app import create_app
    from valign.feedback.human.assist import Critic, Responder, model_critic, model_responder
    from valign.feedback.human.export import export_project, project_comparisons
    from valign.feedback.human.projects import (
        add_items,
        create_project,
        items_from_model,
        read_items,
    )
    from valign.feedback.human.quality import ProjectStats, project_stats
    from valign.feedback.human.settings import ProjectSettings, ServerSettings
    from valign.feedback.human.store import Store

__all__ = [
    "Critic",
    "ProjectSettings",
    "ProjectStats",
    "Responder",
    "ServerSettings",
    "Store",
    "add_items",
    "add_user",
    "authenticate",
    "create_app",
    "create_project",
    "export_project",
    "items_from_model",
    "krippendorff_alpha",
    "model_critic",
    "model_responder",
    "pairwise_kappas",
    "project_comparisons",
    "project_stats",
    "read_items",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "accounts": ["add_user", "authenticate"],
            "agreement": ["krippendorff_alpha", "pairwise_kappas"],
            "app": ["create_app"],
            "assist": ["Critic", "Responder", "model_critic", "model_responder"],
            "export": ["export_project", "project_comparisons"],
            "projects": ["add_items", "create_project", "items_from_model", "read_items"],
            "quality": ["ProjectStats", "project_stats"],
            "settings": ["ProjectSettings", "ServerSettings"],
            "store": ["Store"],
        },
    )
