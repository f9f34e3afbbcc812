"""Writes of curation rules. Every write bumps the rules stamp so serving reloads within a second.

`actor` names who made the change: "admin:<username>" or "api:<client name>". It is stored on
the rule (created_by/updated_by, so every historical record carries it) and as the history's
change reason.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import live_rules
from .models import ChangeSet, ChangeSetStatus, Rule, Segment
from .rules import HOLDOUT_KINDS
from .selectors import Conflict, change_set_conflicts

EDITABLE_FIELDS = (
    "name", "item_id", "item_category", "item_attribute", "position", "strength", "label", "note",
    "placement", "category", "context_item_id", "segment", "segment_user_ids", "starts_at", "ends_at",
    "enabled", "priority", "reason", "holdout_share", "max_per_category", "max_per_attribute", "min_new_items",
    "new_item_days",
)


@transaction.atomic
def rules_stamp_bump() -> int:
    """Move the rules stamp; after commit, publish it (Redis) and drop this process's cache."""
    return live_rules.rules_changed()


def _save(rule: Rule, *, actor: str, reason: str) -> Rule:
    rule.updated_by = actor
    rule.full_clean()
    rule._change_reason = reason
    rule.save()
    rules_stamp_bump()
    return rule


@transaction.atomic
def rule_create(*, kind: str, data: dict[str, Any], actor: str, change_set: ChangeSet | None = None) -> Rule:
    """Create a rule of `kind` from `data` (EDITABLE_FIELDS); raises ValidationError with per-field messages.
    With a `change_set` the rule is a draft of it (disabled until the set is published)."""
    fields = _editable(data)
    if kind in HOLDOUT_KINDS and fields.get("holdout_share") is None:
        fields["holdout_share"] = settings.RULE_HOLDOUT_SHARE  # the deployment's default for new rules
    rule = Rule(kind=kind, created_by=actor, **fields)
    if change_set is not None:
        rule.change_set, rule.enabled = change_set, False
        rule._history_user = change_set.author
        return _save(rule, actor=actor, reason=f"drafted in change set #{change_set.pk} by {actor}")
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


# --- change sets: the board's drafts ----------------------------------------------------------------

class ChangeSetError(Exception):
    """A change set cannot be published or changed; the message is shown to the merchandiser as is."""


class ChangeSetConflicts(ChangeSetError):
    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        super().__init__(f"{len(conflicts)} rule(s) touching the same items or positions changed since your drafts "
                         "began: review them, then publish anyway or discard.")


class ChangeSetInvalid(ChangeSetError):
    def __init__(self, errors: dict[int, list[str]]) -> None:
        self.errors = errors
        super().__init__("Nothing was published: " + "; ".join(
            f"draft #{rid}: {' '.join(messages)}" for rid, messages in sorted(errors.items())))


@dataclass(frozen=True)
class Published:
    change_set: ChangeSet
    rules: list[Rule]
    conflicts: list[Conflict]


def change_set_open(*, author) -> ChangeSet:
    """The author's open change set, created when there is none (one per author: a unique constraint)."""
    change_set = ChangeSet.objects.filter(author=author, status=ChangeSetStatus.OPEN).first()
    if change_set is not None:
        return change_set
    try:
        with transaction.atomic():
            return ChangeSet.objects.create(author=author)
    except IntegrityError:  # the same author's other tab created it a moment ago
        return ChangeSet.objects.get(author=author, status=ChangeSetStatus.OPEN)


def _close(change_set: ChangeSet, status: str, actor: str) -> None:
    change_set.status, change_set.closed_at, change_set.closed_by = status, timezone.now(), actor
    change_set.save(update_fields=["status", "closed_at", "closed_by"])


def _locked_open(change_set: ChangeSet) -> ChangeSet:
    locked = ChangeSet.objects.select_for_update().get(pk=change_set.pk)
    if locked.status != ChangeSetStatus.OPEN:
        raise ChangeSetError(f"Change set #{locked.pk} is already {locked.get_status_display().lower()}.")
    return locked


SCOPE_KEYS = ("placement", "category", "context_item_id")


@transaction.atomic
def change_set_draft(*, change_set: ChangeSet, kind: str, data: dict[str, Any], actor: str) -> Rule:
    """Add a draft rule to the set, or update the set's draft of the same kind for the same item and scope
    (dragging a card twice moves one pin; it does not stack two). Validated like any rule write."""
    change_set = _locked_open(change_set)
    scope = {key: data.get(key) or ("" if key != "context_item_id" else None) for key in SCOPE_KEYS}
    same = change_set.rules.filter(kind=kind, item_id=data.get("item_id"), **scope).first() \
        if data.get("item_id") else None
    if same is not None:
        same._history_user = change_set.author
        return rule_update(rule=same, data={k: v for k, v in data.items() if k != "enabled"}, actor=actor)
    return rule_create(kind=kind, data={k: v for k, v in data.items() if k != "enabled"}, actor=actor,
                       change_set=change_set)


@transaction.atomic
def change_set_remove(*, change_set: ChangeSet, rule: Rule, actor: str) -> None:
    """Drop one draft from the set (a published rule is undone through its history instead)."""
    change_set = _locked_open(change_set)
    if rule.change_set_id != change_set.pk or rule.enabled:
        raise ChangeSetError(f"Rule #{rule.pk} is not a draft of change set #{change_set.pk}.")
    rule._history_user = change_set.author
    rule_delete(rule=rule, actor=actor)


@transaction.atomic
def change_set_publish(*, change_set: ChangeSet, actor: str, accept_conflicts: bool = False) -> Published:
    """Re-validate every draft as enabled and enable them all, in one transaction: all or nothing.

    Conflicts (rules outside the set, touching the same items or pin positions in an overlapping scope,
    changed since the drafts began) stop the publish unless `accept_conflicts`; the merchandiser sees them
    first. Each rule's history records the publish with the set's number, so undo is a revert there.
    """
    change_set = _locked_open(change_set)
    drafts = list(change_set.rules.select_for_update().order_by("pk"))
    if not drafts:
        raise ChangeSetError("There are no drafts to publish.")
    conflicts = change_set_conflicts(change_set=change_set)
    if conflicts and not accept_conflicts:
        raise ChangeSetConflicts(conflicts)
    errors: dict[int, list[str]] = {}
    for rule in drafts:
        rule.enabled = True
        try:
            rule.full_clean()
        except ValidationError as exc:
            errors[rule.pk] = [f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
                               for field, msgs in exc.message_dict.items()]
    if errors:
        raise ChangeSetInvalid(errors)
    for rule in drafts:
        rule.updated_by = actor
        rule._history_user = change_set.author
        rule._change_reason = f"published in change set #{change_set.pk} by {actor}"
        rule.save()
    _close(change_set, ChangeSetStatus.PUBLISHED, actor)
    rules_stamp_bump()
    return Published(change_set=change_set, rules=drafts, conflicts=conflicts)


@transaction.atomic
def change_set_discard(*, change_set: ChangeSet, actor: str) -> int:
    """Delete every draft of the set (each deletion is in the audit log) and close it."""
    change_set = _locked_open(change_set)
    drafts = list(change_set.rules.filter(enabled=False))
    for rule in drafts:
        rule.updated_by = actor
        rule._history_user = change_set.author
        rule._change_reason = f"discarded with change set #{change_set.pk} by {actor}"
        rule.delete()
    _close(change_set, ChangeSetStatus.DISCARDED, actor)
    if drafts:
        rules_stamp_bump()
    return len(drafts)


MERCHANDISER_GROUP = "Merchandiser"
# What a merchandiser may do (migrations 0002 and 0007, and recsys 0018, give the group these; keep them in step).
MERCHANDISER_PERMISSIONS = (
    "curation.add_rule", "curation.change_rule", "curation.delete_rule", "curation.view_rule",
    "curation.preview_rules", "curation.view_historicalrule", "recsys.view_item", "recsys.view_modelversion",
    "recsys.view_impression", "recsys.view_feedback", "curation.view_changeset",
    "recsys.view_suggestion", "recsys.change_suggestion", "recsys.view_historicalsuggestion",  # recsys 0018
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
