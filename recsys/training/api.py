"""Training runs and model versions: thin views over recsys.training.services and its selectors.

A run's `error`, `worker_host`, `worker_pid` and `triggered_by` (an API client's or admin user's name) are
internal: only write-scope tokens see them (read tokens, which are public, get the rest). No answer names a path
on the server: a version's artifact location stays in the admin, and a run's `error` is its first paragraph
with paths left out (the traceback and the log are in the admin too).

Errors are recsys.core.errors exceptions, answered by recsys.http.exception_handler.
"""
import re

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.clients.auth import READ, WRITE
from recsys.core.errors import BadRequest, Conflict, NotFound, Unavailable
from recsys.http.schema import ERROR
from recsys.http.serializers import InternalFieldsMixin
from recsys.training import selectors
from recsys.training.models import ModelVersion, TrainingRun
from recsys.training.services import ActivationError, model_version_activate, training_run_start


def _context(request) -> dict:
    return {"internal": request.user.scope == WRITE}


# An absolute path (`/srv/curio/...`, `C:\\models\\...`), not a ratio such as 0.1/0.2 or a URL's path.
_SERVER_PATH = re.compile(r"(?<![\w:/.\\])(?:/|[A-Za-z]:\\)[\w.~-]+(?:[/\\][\w.~-]*)+")


def public_error(error: str) -> str:
    """A run's error for the API: its first paragraph (not the traceback), with server paths left out."""
    return _SERVER_PATH.sub("<path>", error.split("\n\n", 1)[0]).strip()


class ModelVersionSerializer(serializers.ModelSerializer):
    """A trained model; at most one is active (it serves the lists)."""

    run = serializers.IntegerField(source="run_id", allow_null=True, help_text="the training run that made it")
    params = serializers.DictField(help_text="the model kind's parameters")
    metrics = serializers.DictField(help_text="offline figures on the untouched holdout, e.g. ndcg@10")
    baseline_metrics = serializers.DictField(help_text="the popularity baseline's figures, for comparison")

    class Meta:
        model = ModelVersion
        # No artifact_path: a path on the server (the admin shows it to staff).
        fields = ["id", "kind", "params", "metrics", "baseline_metrics", "is_active", "rejected_reason",
                  "run", "created_at", "activated_at"]


class TrainingRunSerializer(InternalFieldsMixin, serializers.ModelSerializer):
    """A training run: its progress, and once done its figures and the model version it made."""

    INTERNAL_FIELDS = ("error", "worker_host", "worker_pid", "triggered_by")  # triggered_by names a client or user
    model_version = serializers.SerializerMethodField()
    params = serializers.DictField(help_text="the search's candidates and the event weights")
    data_counts = serializers.DictField(help_text="events, shoppers, items, ... it trained on")
    timings = serializers.DictField(help_text="seconds per stage")
    metrics = serializers.DictField(help_text="`selection`: every trial, best first; `model`: the winner on the "
                                    "untouched holdout")
    error = serializers.SerializerMethodField(help_text="why it failed or was rejected, in one paragraph "
                                              "(write scope)")

    class Meta:
        model = TrainingRun
        fields = ["id", "status", "stage", "progress", "triggered_by", "executor", "worker_host", "worker_pid",
                  "heartbeat_at", "params", "data_counts", "timings", "metrics", "error", "model_version",
                  "created_at", "started_at", "finished_at"]

    @extend_schema_field(ModelVersionSerializer(allow_null=True, help_text="the version it made, if any"))
    def get_model_version(self, run) -> dict | None:
        version = getattr(run, "model_version", None)
        return None if version is None else ModelVersionSerializer(version, context=self.context).data

    def get_error(self, run) -> str:
        return public_error(run.error)


class StartedRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(TrainingRun.Status.choices)
    created = serializers.BooleanField(help_text="false: a run was already queued or running; that one is returned.")


class TrainingRunListView(APIView):
    required_scope = {"GET": READ, "POST": WRITE}
    throttle_scope = {"POST": "training"}  # starts have their own rate (CURIO_THROTTLE_TRAINING); reads do not

    @extend_schema(responses=TrainingRunSerializer(many=True))
    def get(self, request):
        return Response(TrainingRunSerializer(selectors.training_runs_recent(), many=True,
                                              context=_context(request)).data)

    @extend_schema(request=None, responses={202: StartedRunSerializer, 503: ERROR},
                   summary="Start a training run (or get the one already queued or running)",
                   examples=[OpenApiExample("Started", response_only=True, status_codes=["202"],
                                            value={"id": 42, "status": "queued", "created": True})])
    def post(self, request):
        if request.data not in ({}, None) and not isinstance(request.data, dict):
            raise BadRequest("Send an empty JSON object.")
        run, created = training_run_start(triggered_by=f"api:{request.user.name}")
        run.refresh_from_db(fields=["status", "error"])  # dispatch may already have failed it (broker down)
        if run.status == TrainingRun.Status.FAILED:
            raise Unavailable(public_error(run.error), extra={"id": run.pk, "status": run.status})
        return Response({"id": run.pk, "status": run.status, "created": created}, status=status.HTTP_202_ACCEPTED)


class TrainingRunDetailView(APIView):
    required_scope = {"GET": READ}

    @extend_schema(responses=TrainingRunSerializer)
    def get(self, request, run_id: int):
        run = selectors.training_run_get(run_id)
        if run is None:
            raise NotFound(f"No training run {run_id}.")
        return Response(TrainingRunSerializer(run, context=_context(request)).data)


class ModelVersionListView(APIView):
    required_scope = {"GET": READ}

    @extend_schema(responses=ModelVersionSerializer(many=True))
    def get(self, request):
        return Response(ModelVersionSerializer(selectors.model_versions_recent(), many=True,
                                               context=_context(request)).data)


class ModelVersionActivateView(APIView):
    required_scope = {"POST": WRITE}

    @extend_schema(request=None, responses={200: ModelVersionSerializer, 409: ERROR, 503: ERROR})
    def post(self, request, version_id: int):
        if not ModelVersion.objects.filter(pk=version_id).exists():
            raise NotFound(f"No model version {version_id}.")
        try:
            version = model_version_activate(version_id=version_id)
        except ActivationError as exc:
            if exc.retryable:
                raise Unavailable(str(exc)) from exc
            raise Conflict(str(exc)) from exc
        return Response(ModelVersionSerializer(version, context=_context(request)).data)
