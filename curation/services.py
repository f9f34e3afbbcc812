"""Writes of curation rules. Every write bumps the rules stamp so serving reloads within a second.

`actor` names who made the change: "admin:<username>" or "api:<client name>". It is stored on
the rule (created_by/updated_by, so every historical record carries it) and as the history's
change reason.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import runtime
from .models import HOLDOUT_KINDS, Rule, RulesStamp, Segment

EDITABLE_FIELDS = (
    "name", "item_id", "item_category", "item_attribute", "position", "strength", "label", "note",
    "placement", "category", "context_item_id", "segment", "segment_user_ids", "starts_at", "ends_at",
    "enabled", "priority", "reason", "holdout_share", "max_per_category", "max_per_attribute", "min_new_items",
    "new_item_days",
)


@transaction.atomic
def rules_stamp_bump() -> int:
    """Move the rules stamp; after commit, publish it (Redis) and drop this process's cache."""
    now = timezone.now()
    if not RulesStamp.objects.filter(pk=1).update(version=F("version") + 1, changed_at=now):
        RulesStamp.objects.get_or_create(pk=1, defaults={"version": 1, "changed_at": now})
    version = RulesStamp.objects.values_list("version", flat=True).get(pk=1)
    runtime.invalidate()  # this thread sees its own write at once, even inside an outer transaction
    transaction.on_commit(lambda: runtime.publish_stamp(version))
    return version


def _save(rule: Rule, *, actor: str, reason: str) -> Rule:
    rule.updated_by = actor
    rule.full_clean()
    rule._change_reason = reason
    rule.save()
    rules_stamp_bump()
    return rule


@transaction.atomic
def rule_create(*, kind: str, data: dict[str, Any], actor: str) -> Rule:
    """Create a rule of `kind` from `data` (EDITABLE_FIELDS); raises ValidationError with per-field messages."""
    fields = _editable(data)
    if kind in HOLDOUT_KINDS and fields.get("holdout_share") is None:
        fields["holdout_share"] = settings.RULE_HOLDOUT_SHARE  # the deployment's default for new rules
    rule = Rule(kind=kind, created_by=actor, **fields)
    return _save(rule, actor=actor, reason=f"created by {actor}")


@transaction.atomic
def rule_update(*, rule: Rule, data: dict[str, Any], actor: str) -> Rule:
    for name, value in _editable(data).items():
        setattr(rule, name, value)
    return _save(rule, actor=actor, reason=f"changed by {actor}")


@transaction.atomic
def rule_save(*, rule: Rule, actor: str, created: bool) -> Rule:
    """Save a rule already filled in (the admin's form, a history revert)."""
    if created:
        rule.created_by = actor
    return _save(rule, actor=actor, reason=f"{'created' if created else 'changed'} by {actor}")


@transaction.atomic
def rule_delete(*, rule: Rule, actor: str) -> None:
    rule.updated_by = actor  # the deletion record carries who deleted it
    rule._change_reason = f"deleted by {actor}"
    rule.delete()
    rules_stamp_bump()


@transaction.atomic
def rules_set_enabled(*, rules: Iterable[Rule], enabled: bool, actor: str) -> int:
    """Enable or disable many rules; each change gets its own history record."""
    changed = 0
    for rule in rules:
        if rule.enabled != enabled:
            rule.enabled = enabled
            rule.updated_by = actor
            rule._change_reason = f"{'enabled' if enabled else 'disabled'} by {actor}"
            rule.save()
            changed += 1
    if changed:
        rules_stamp_bump()
    return changed


@transaction.atomic
def rules_duplicate(*, rules: Iterable[Rule], actor: str) -> list[Rule]:
    """Copies start disabled, so a duplicate never changes live lists before it is edited."""
    copies = []
    for rule in rules:
        copy = Rule(kind=rule.kind, created_by=actor, updated_by=actor,
                    **{name: getattr(rule, name) for name in EDITABLE_FIELDS})
        copy.enabled = False
        copy.name = f"{rule.title} (copy)"[:200]
        copy.full_clean()
        copy._change_reason = f"duplicated from #{rule.pk} by {actor}"
        copy.save()
        copies.append(copy)
    if copies:
        rules_stamp_bump()
    return copies


def _editable(data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    return dict(data)


MERCHANDISER_GROUP = "Merchandiser"
# What a merchandiser may do (migration 0002 creates the group with these; keep both in step).
MERCHANDISER_PERMISSIONS = (
    "curation.add_rule", "curation.change_rule", "curation.delete_rule", "curation.view_rule",
    "curation.preview_rules", "curation.view_historicalrule", "recsys.view_item", "recsys.view_modelversion",
)


@transaction.atomic
def merchandiser_group_ensure():
    """The Merchandiser group with exactly its permissions (e.g. after a test flushed the migration's rows)."""
    for label in ("curation", "recsys"):
        create_permissions(apps.get_app_config(label), verbosity=0)
    group, _ = Group.objects.get_or_create(name=MERCHANDISER_GROUP)
    wanted = []
    for perm in MERCHANDISER_PERMISSIONS:
        app_label, codename = perm.split(".")
        wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    group.permissions.set(wanted)
    return group


@transaction.atomic
def segments_forget_users(*, user_ids: Iterable[str]) -> int:
    """Erasure: take these shoppers out of every listed-shopper segment, in the rules and in their audit
    history (rows edited in place, so the history keeps no trace of the ids). Returns rules changed."""
    gone = set(user_ids)
    changed = 0
    for model in (Rule, Rule.history.model):
        for pk, listed in model.objects.filter(segment=Segment.USERS).values_list("pk", "segment_user_ids"):
            if listed and gone.intersection(listed):
                model.objects.filter(pk=pk).update(segment_user_ids=[u for u in listed if u not in gone])
                changed += model is Rule
    if changed:
        rules_stamp_bump()
    return changed
