"""What every extractor is given besides the bytes."""

from __future__ import annotations

from dataclasses import dataclass, field

from blankett.extractors.placement import Placer
from blankett.models.labels import LabelMatcher
from blankett.models.limits import Limits
from blankett.models.spec import FormSpec


@dataclass(frozen=True)
class ReadContext:
    spec: FormSpec
    limits: Limits = field(default_factory=Limits)
    matcher: LabelMatcher = field(init=False)
    placer: Placer = field(init=False)

    def __post_init__(self) -> None:
        matcher = LabelMatcher(self.spec)
        object.__setattr__(self, "matcher", matcher)
        object.__setattr__(self, "placer", Placer(self.spec, matcher.vocabulary))
