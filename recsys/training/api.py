"""Training runs and model versions: thin views over recsys.training.services and its selectors.

A run's `error`, `worker_host` and `worker_pid` and a version's `artifact_path` are internal: only
write-scope tokens see them (read tokens get the rest).

Errors are recsys.errors exceptions, answered by recsys.http.exception_handler.
"""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from recsys.clients.auth import READ, WRITE
from recsys.errors import BadRequest, Conflict, NotFound, Unavailable
from recsys.http.schema import ERROR
from recsys.http.serializers import InternalFieldsMixin
from recsys.training import selectors
from recsys.training.models import ModelVersion, TrainingRun
from recsys.training.services import ActivationError, model_version_activate, training_run_start


def _context(request) -> dict:
    return {"internal": request.user.scope == WRITE}


class ModelVersionSerializer(InternalFieldsMixin, serializers.ModelSerializer):
    INTERNAL_FIELDS = ("artifact_path",)
    run = serializers.IntegerField(source="run_id", allow_null=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "kind", "params", "metrics", "baseline_metrics", "is_active", "rejected_reason",
                  "artifact_path", "run", "created_at", "activated_at"]


class TrainingRunSerializer(InternalFieldsMixin, serializers.ModelSerializer):
    INTERNAL_FIELDS = ("error", "worker_host", "worker_pid")
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "status", "stage", "progress", "triggered_by", "executor", "worker_host", "worker_pid",
                  "heartbeat_at", "params", "data_counts", "timings", "metrics", "error", "model_version",
                  "created_at", "started_at", "finished_at"]

    def get_model_version(self, run) -> dict | None:
        version = getattr(run, "model_version", None)
        return None if version is None else ModelVersionSerializer(version, context=self.context).data


class StartedRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    created = serializers.BooleanField(help_text="false: a run was already queued or running; that one is returned.")


class TrainingRunListView(APIView):
    required_scope = {"GET": READ, "POST": WRITE}

    @extend_schema(responses=TrainingRunSerializer(many=True))
    def get(self, request):
        return Response(TrainingRunSerializer(selectors.training_runs_recent(), many=True,
                                              context=_context(request)).data)

    @extend_schema(request=None, responses={202: StartedRunSerializer, 503: ERROR})
    def post(self, request):
        if request.data not in ({}, None) and not isinstance(request.data, dict):
            raise BadRequest("Send an empty JSON object.")
        run, created = training_run_start(triggered_by=f"api:{request.user.name}")
        run.refresh_from_db(fields=["status", "error"])  # dispatch may already have failed it (broker down)
        if run.status == TrainingRun.Status.FAILED:
            raise Unavailable(run.error, extra={"id": run.pk, "status": run.status})
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

    @extend_schema(request=None, responses={200: ModelVersionSerializer, 409: ERROR})
    def post(self, request, version_id: int):
        if not ModelVersion.objects.filter(pk=version_id).exists():
            raise NotFound(f"No model version {version_id}.")
        try:
            version = model_version_activate(version_id=version_id)
        except ActivationError as exc:
            raise Conflict(str(exc)) from exc
        return Response(ModelVersionSerializer(version, context=_context(request)).data)
