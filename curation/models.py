"""Merchandiser rules: pins, blocks, boosts, annotations, diversity (curation/rules/: how they apply).

One table for the five kinds: one id space (the trace names rules by id), one audit history,
one list in the admin with a type filter. Which fields a kind uses is enforced by constraints
and `Rule.clean()`; the API exposes each kind at its own path.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from recsys.catalog.models import Item

from . import rules

# A user-id segment names at most this many shoppers (larger audiences: a segment rule, not a list).
SEGMENT_MAX_USER_IDS = 10_000


class RuleKind(models.TextChoices):
    PIN = "pin", "Pin"
    BLOCK = "block", "Block"
    BOOST = "boost", "Boost / bury"
    ANNOTATION = "annotation", "Annotation"
    DIVERSITY = "diversity", "Diversity"


class Segment(models.TextChoices):
    ALL = "", "All shoppers"
    NEW = "new", "New shoppers"
    RETURNING = "returning", "Returning shoppers"
    USERS = "users", "Listed shoppers"


class RuleStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SCHEDULED = "scheduled", "Scheduled"
    EXPIRED = "expired", "Expired"
    DISABLED = "disabled", "Disabled"


# Fields each kind may target, in form order (the admin and the API show these); the others must stay empty.
TARGET_FIELDS = {
    RuleKind.PIN: ("item", "position"),
    RuleKind.BLOCK: ("item", "item_category", "item_attribute"),
    RuleKind.BOOST: ("item", "item_category", "item_attribute", "strength"),
    RuleKind.ANNOTATION: ("item", "label", "note"),
    RuleKind.DIVERSITY: ("max_per_category", "max_per_attribute", "min_new_items", "new_item_days"),
}
KIND_FIELDS = ("item", "item_category", "item_attribute", "position", "strength", "label", "note",
               "max_per_category", "max_per_attribute", "min_new_items", "new_item_days")
DIVERSITY_FIELDS = TARGET_FIELDS[RuleKind.DIVERSITY]


def _history_user(request=None, **kwargs):
    """The admin user behind a change. API requests carry a ClientUser: its name is in `updated_by`."""
    user = getattr(request, "user", None)
    return user if isinstance(user, AbstractBaseUser) else None


UNKNOWN_ITEM = {"invalid": "Unknown item %(value)r: add it to the catalog first."}


class ChangeSetStatus(models.TextChoices):
    OPEN = "open", "Open (drafts)"
    PUBLISHED = "published", "Published"
    DISCARDED = "discarded", "Discarded"


class ChangeSet(models.Model):
    """A merchandiser's drafts from the board: rules with `enabled` false until the whole set is published.

    One open change set per author. Publishing enables every rule of the set in one transaction (each rule's
    history records it, naming the set); conflicts are rules outside the set changed since `created_at`.
    """

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=ChangeSetStatus.choices, default=ChangeSetStatus.OPEN,
                              db_index=True)
    created_at = models.DateTimeField(default=timezone.now, help_text="When the drafts began (conflicts: changes "
                                                                      "to other rules after this moment).")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["author"], condition=Q(status="open"),
                                               name="change_set_one_open_per_author")]

    def __str__(self) -> str:
        return f"change set #{self.pk} ({self.get_status_display().lower()})"


class Rule(models.Model):
    kind = models.CharField(max_length=16, choices=RuleKind.choices, db_index=True)
    name = models.CharField(max_length=200, blank=True, default="",
                            help_text="Optional; a description is generated when empty.")
    # Target
    item = models.ForeignKey(Item, to_field="item_id", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+", error_messages=UNKNOWN_ITEM, help_text="The item this rule is about.")
    item_category = models.CharField(max_length=200, blank=True, default="",
                                     help_text="Blocks/boosts: every item of this category.")
    item_attribute = models.JSONField(null=True, blank=True,
                                      help_text='Blocks/boosts: items whose attributes match, e.g. {"brand": "Acme"}.')
    position = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)],
                                           help_text="Pins: the 1-based position in the list.")
    strength = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-1.0), MaxValueValidator(1.0)],
                                 help_text="Boosts: 1 = ahead of every unboosted item, -1 = behind all of them.")
    label = models.CharField(max_length=100, blank=True, default="",
                             help_text='Annotations: shown to shoppers, e.g. "Staff pick".')
    note = models.TextField(blank=True, default="", help_text="Annotations: internal note, never shown to shoppers.")
    max_per_category = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Diversity: at most this many items of one category in a list.")
    max_per_attribute = models.JSONField(
        null=True, blank=True, help_text='Diversity: at most this many items per attribute value, e.g. {"brand": 2}.')
    min_new_items = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Diversity: at least this many items added within new_item_days, where candidates allow.")
    new_item_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Diversity: what counts as a new item.")
    holdout_share = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(rules.MAX_HOLDOUT_SHARE)],
        help_text="Pins, boosts, annotations: share of shoppers (0 to 0.5) served without this rule, to measure it.")
    # Scope: an empty field means everywhere
    placement = models.CharField(max_length=64, blank=True, default="", db_index=True,
                                 help_text="Only this list (home, product_page, cart, email...); empty: all lists.")
    category = models.CharField(max_length=200, blank=True, default="",
                                help_text="Only lists filtered to this category.")
    context_item = models.ForeignKey(Item, to_field="item_id", on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="+", error_messages=UNKNOWN_ITEM,
                                     help_text="Only similar-item lists of this item.")
    segment = models.CharField(max_length=16, choices=Segment.choices, blank=True, default=Segment.ALL)
    segment_user_ids = models.JSONField(default=list, blank=True, help_text="Listed shoppers: their user ids.")
    # Life
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True, db_index=True)
    priority = models.IntegerField(default=0, help_text="Higher wins a conflict (two pins on one position).")
    reason = models.TextField(blank=True, default="", help_text="Why this rule exists (internal).")
    change_set = models.ForeignKey(ChangeSet, on_delete=models.SET_NULL, null=True, blank=True, editable=False,
                                   related_name="rules", help_text="The board's change set this rule was drafted in.")
    created_by = models.CharField(max_length=200, blank=True, default="", editable=False)
    updated_by = models.CharField(max_length=200, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"], get_user=_history_user,
                                verbose_name="rule change", verbose_name_plural="rule audit log")

    class Meta:
        ordering = ["-priority", "-created_at"]
        permissions = [("preview_rules", "Can preview curated lists")]
        constraints = [
            models.CheckConstraint(name="rule_position_ge_1", condition=Q(position__isnull=True) | Q(position__gte=1)),
            models.CheckConstraint(name="rule_strength_range",
                                   condition=Q(strength__isnull=True) | Q(strength__gte=-1.0, strength__lte=1.0)),
            models.CheckConstraint(name="rule_window_order",
                                   condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True)
                                   | Q(ends_at__gt=models.F("starts_at"))),
            models.CheckConstraint(name="rule_pin_target",
                                   condition=~Q(kind="pin") | Q(item__isnull=False, position__isnull=False)),
            models.CheckConstraint(name="rule_boost_strength", condition=~Q(kind="boost") | Q(strength__isnull=False)),
            models.CheckConstraint(name="rule_annotation_target",
                                   condition=~Q(kind="annotation") | (Q(item__isnull=False) & ~Q(label=""))),
            models.CheckConstraint(name="rule_holdout_share_range",
                                   condition=Q(holdout_share__gte=0.0, holdout_share__lte=rules.MAX_HOLDOUT_SHARE)),
            models.CheckConstraint(name="rule_holdout_kinds",
                                   condition=Q(kind__in=["pin", "boost", "annotation"]) | Q(holdout_share=0.0)),
        ]
        indexes = [models.Index(fields=["enabled", "ends_at"], name="rule_live")]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return self.to_engine().title

    def to_engine(self) -> rules.Rule:
        """The plain frozen dataclass the pure engine works on (no ORM inside the engine)."""
        attribute = self.item_attribute if isinstance(self.item_attribute, dict) else {}
        return rules.Rule(
            id=self.pk or 0,
            kind=self.kind,
            name=self.name,
            item_id=self.item_id or "",
            item_category=self.item_category,
            item_attribute=tuple(sorted((str(k), str(v)) for k, v in attribute.items())),
            position=self.position or 0,
            strength=self.strength or 0.0,
            label=self.label,
            note=self.note,
            placement=self.placement,
            category=self.category,
            context_item_id=self.context_item_id or "",
            segment=self.segment,
            segment_user_ids=frozenset(self.segment_user_ids or ()),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            enabled=self.enabled,
            priority=self.priority,
            created_at=self.created_at,
            holdout_share=self.holdout_share or 0.0,
            max_per_category=self.max_per_category or 0,
            max_per_attribute=tuple(sorted((str(k), int(v)) for k, v in (self.max_per_attribute or {}).items())),
            min_new_items=self.min_new_items or 0,
            new_item_days=self.new_item_days or 0,
        )

    def status(self, now=None) -> str:
        now = now or timezone.now()
        if not self.enabled:
            return RuleStatus.DISABLED
        if self.ends_at and now >= self.ends_at:
            return RuleStatus.EXPIRED
        if self.starts_at and now < self.starts_at:
            return RuleStatus.SCHEDULED
        return RuleStatus.ACTIVE

    def clean(self) -> None:
        errors: dict[str, str] = {}
        allowed = TARGET_FIELDS.get(self.kind, ())
        for name in KIND_FIELDS:
            if name not in allowed and _filled(getattr(self, name if name != "item" else "item_id")):
                errors[name] = f"A {self.kind} rule does not use this field."
        targets = [n for n in ("item", "item_category", "item_attribute")
                   if n in allowed and _filled(getattr(self, n if n != "item" else "item_id"))]
        if self.kind == RuleKind.DIVERSITY:
            self._clean_diversity(errors)
        elif not targets:
            errors.setdefault("item", "The rule targets nothing: give an item"
                              + (", a category or an attribute." if "item_category" in allowed else "."))
        elif len(targets) > 1:
            errors[targets[1]] = "Give exactly one target: an item, a category or an attribute."
        if self.item_attribute is not None and self.item_attribute != {}:
            if not isinstance(self.item_attribute, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in self.item_attribute.items()
            ):
                errors["item_attribute"] = 'Give an object of attribute names and values, e.g. {"brand": "Acme"}.'
        if self.kind == RuleKind.PIN and self.position is None:
            errors["position"] = "A pin needs a position (1 or more)."
        if self.kind == RuleKind.BOOST and self.strength is None:
            errors["strength"] = "A boost needs a strength between -1 and 1 (negative buries)."
        if self.kind == RuleKind.ANNOTATION and not self.label:
            errors["label"] = "An annotation needs a label shoppers will see."
        share = self.holdout_share or 0.0
        if not isinstance(share, int | float) or not 0.0 <= share <= rules.MAX_HOLDOUT_SHARE:
            errors["holdout_share"] = f"Give a share between 0 and {rules.MAX_HOLDOUT_SHARE} (e.g. 0.1 for 10%)."
        elif share and self.kind not in rules.HOLDOUT_KINDS:
            errors["holdout_share"] = f"A {self.kind} rule applies to all traffic: it has no holdout."
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must be after the start."
        if self.segment == Segment.USERS:
            ids = self.segment_user_ids
            if not ids or not isinstance(ids, list) or not all(isinstance(u, str) and u for u in ids):
                errors["segment_user_ids"] = "List the shoppers' user ids (non-empty strings)."
            elif len(ids) > SEGMENT_MAX_USER_IDS:
                errors["segment_user_ids"] = (f"{len(ids):,} user ids: a segment holds at most "
                                              f"{SEGMENT_MAX_USER_IDS:,}.")
        elif self.segment_user_ids:
            errors["segment_user_ids"] = "Only used when the segment is 'Listed shoppers'."
        if errors:
            raise ValidationError(errors)


    def _clean_diversity(self, errors: dict[str, str]) -> None:
        caps = self.max_per_attribute
        if caps not in (None, {}):
            if not isinstance(caps, dict) or not all(
                isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and v >= 1
                for k, v in caps.items()
            ):
                errors["max_per_attribute"] = 'Give attribute names and caps of 1 or more, e.g. {"brand": 2}.'
        if self.max_per_category is not None and self.max_per_category < 1:
            errors["max_per_category"] = "Give a cap of 1 or more items per category."
        if not (self.max_per_category or caps):
            errors.setdefault("max_per_category", "A diversity rule needs a cap: max_per_category and/or "
                                                  "max_per_attribute.")
        if bool(self.min_new_items) != bool(self.new_item_days):
            errors["new_item_days"] = "min_new_items and new_item_days go together."
        elif self.new_item_days and self.new_item_days > rules.MAX_NEW_ITEM_DAYS:
            errors["new_item_days"] = f"Give at most {rules.MAX_NEW_ITEM_DAYS:,} days (any item is new by then)."


def _filled(value) -> bool:
    return value not in (None, "", {}, [])


class RulesStamp(models.Model):
    """One row whose `version` changes with every rule write: serving reloads rules when it moves."""

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"rules v{self.version}"
