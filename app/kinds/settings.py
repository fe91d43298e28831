"""Settings every kind shares. A kind's own settings model extends one of these (in its module); every
setting has a default, so {name, kind} alone creates a working project."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class CommonSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: int = Field(1, ge=1, le=50, description="annotations wanted per task")
    lease_minutes: int = Field(10, ge=1, le=24 * 60)
    show_suggestions: bool = True
    gold_rate: float = Field(0.0, ge=0, le=1, description="share of claims that serve a gold task")
    # quality
    reveal_annotators: bool = Field(False, description="reviewers see annotators' names, not pseudonyms")
    min_seconds_per_task: float = Field(2.0, ge=0, le=3600, description="faster answers are flagged")
    auto_pause: bool = Field(False, description="pause annotators whose gold accuracy falls too low")
    gold_min_accuracy: float = Field(0.6, ge=0, le=1)
    gold_min_answers: int = Field(5, ge=1, le=1000, description="gold answers before accuracy counts")
    # Every kind's content is Markdown; its images load only from this instance (and data: URIs) unless
    # their host is named here (app/web/templating.py). A fetched image tells its host who reads the page.
    image_hosts: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="host names whose images task and model text may show (annotators' browsers fetch "
        "them); images from other hosts are shown as a link, not loaded",
    )

    @field_validator("image_hosts")
    @classmethod
    def _host_names(cls, values: list[str]) -> list[str]:
        hosts = distinct([v.strip().lower().rstrip(".") for v in values], "image hosts")
        for host in hosts:
            if not _HOST.match(host):
                raise ValueError(f"{host!r} is not a host name (write images.example.com, no scheme or path)")
        return hosts


class ComparedSettings(CommonSettings):
    """Kinds whose tasks compare responses: a reward model can score them and order the queue; the
    assistant turns of a multi-turn prompt can be rated too (app/kinds/turns.py)."""

    queue_order: Literal["priority", "margin", "disagreement", "random"] = Field(
        "priority", description="which open task the queue serves first (app/loop/priority.py)"
    )
    turn_ratings: bool = Field(
        False, description="annotators may rate or flag each assistant turn of a multi-turn prompt"
    )
    turn_scale: list[str] = Field(
        default_factory=lambda: ["bad", "okay", "good"], min_length=2, max_length=9,
        description="the labels of a turn's rating, worst first",
    )  # fmt: skip

    _turn_scale = field_validator("turn_scale")(lambda v: distinct(v, "turn scale labels"))


class EditableSettings(ComparedSettings):
    """Kinds whose annotators may rewrite the response they prefer (app/kinds/rewrites.py): the rewrite
    ranks above every response of its task (edited ≻ chosen ≻ rejected)."""

    edits: Literal["off", "optional", "required_if_neither_good"] = Field(
        "off",
        description="off; optional (the annotator may rewrite the preferred response); "
        "required_if_neither_good (an annotator who marks neither response good must rewrite one)",
    )
    edit_max_chars: int = Field(20_000, ge=1, le=100_000, description="the longest rewrite taken")


def distinct(values: list[str], what: str) -> list[str]:
    cleaned = [v.strip() for v in values if v.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise ValueError(f"{what} must be distinct")
    return cleaned


# Form fields every kind's settings form shows, before the kind's own (Kind.settings_fields).
COMMON_FIELDS = ("overlap", "lease_minutes", "show_suggestions", "image_hosts")
QUALITY_FIELDS = ("gold_rate", "gold_min_accuracy", "gold_min_answers", "auto_pause", "min_seconds_per_task",
                  "reveal_annotators")  # fmt: skip
