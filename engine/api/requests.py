"""Request bodies, validated for shape only; the actions judge meaning.

Unknown fields policy (the same everywhere): a field the Camunda API does not define is
refused with 400 INVALID_ARGUMENT, naming it. A field Camunda defines but this server does
not act on is either accepted and ignored when ignoring it changes nothing for the caller
(`operationReference`) or refused with a 400 that says it is not supported
(`startInstructions`, `tags`, ...), never silently
dropped when the caller would get something other than asked for.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from engine.api.quick_check import compile_check
from engine.api.search import KEY_RE

MAX_TIMEOUT_MS = 2**63 - 1


@extend_schema_field({"type": "string", "pattern": "^-?[0-9]+$", "minLength": 1, "maxLength": 25})
class KeyField(serializers.Field):
    """Camunda keys travel as strings of digits; integers are accepted too."""

    default_error_messages = {"invalid": "not a key: expected a string of digits (a 64-bit integer)"}
    whole_check = True  # to_internal_value is all of it (engine/api/quick_check.py may call it alone)

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if isinstance(data, bool) or not isinstance(data, (str, int)) or not KEY_RE.match(str(data)):
            self.fail("invalid")
        value = int(data)
        if not -(2**63) <= value < 2**63:
            self.fail("invalid")
        return value

    def to_representation(self, value):  # type: ignore[no-untyped-def]
        return str(value)


class ObjectField(serializers.DictField):
    """A JSON object (variables); null means empty."""

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if not isinstance(data, dict):
            raise serializers.ValidationError("expected a JSON object")
        return dict(data)


class Strict(serializers.Serializer):
    # Refuses fields it does not declare; `ignored` names accepted-and-ignored ones,
    # `unsupported` names Camunda fields this server refuses unless empty.

    ignored: frozenset[str] = frozenset()
    unsupported: frozenset[str] = frozenset()

    @property
    def fields(self):  # type: ignore[no-untyped-def]
        # DRF deep-copies and binds every declared field for each serializer instance: half of
        # the CPU a create spent validating. Plain fields keep no state between validations, so
        # a class without nested serializers (which do keep some) binds its set once and shares it.
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is not None:
            return shared
        own = self.__dict__.get("_own_fields")
        if own is None:
            own = BindingDict(self)
            for name, field in self.get_fields().items():
                own[name] = field
            self._own_fields = own
            if not any(isinstance(f, serializers.BaseSerializer) or isinstance(getattr(f, "child", None),
                       serializers.BaseSerializer) for f in own.values()):
                cls._shared_fields = own
        return own

    @classmethod
    def plain(cls, data: dict[str, Any]) -> dict[str, Any] | None:
        """What DRF would validate this body to, when that is plain without it (engine/api/quick_check.py);
        None: let the serializer judge it."""
        quick = cls.__dict__.get("_quick", False)
        if quick is False:
            quick = compile_check(cls(), ObjectField, cls.ignored, cls.unsupported)
            cls._quick = quick
        if quick is None:
            return None
        attrs = quick(data)
        if attrs is None:
            return None
        try:
            return cls().validate(attrs)
        except serializers.ValidationError:
            return None  # the serializer says so, in its words

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields) - self.ignored - self.unsupported
            if unknown:
                raise serializers.ValidationError(
                    {name: ["unknown field (see the API documentation for this request)"] for name in sorted(unknown)}
                )
            for name in sorted(self.unsupported & set(data)):
                if data[name] not in (None, [], {}, False, ""):
                    raise serializers.ValidationError({name: ["not supported by this server"]})
            data = {k: v for k, v in data.items() if k in self.fields}
        return super().to_internal_value(data)


def _strings(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=255), max_length=1000, **kwargs)


class CreateProcessInstance(Strict):
    ignored = frozenset({"operationReference"})
    unsupported = frozenset({"startInstructions", "runtimeInstructions", "tags"})

    processDefinitionId = serializers.CharField(required=False, max_length=255)
    processDefinitionVersion = serializers.IntegerField(required=False, default=-1, min_value=-1, max_value=2**31 - 1)
    processDefinitionVersionTag = serializers.CharField(required=False, max_length=255)
    processDefinitionKey = KeyField(required=False)
    variables = ObjectField(default=dict)
    tenantId = serializers.CharField(required=False, max_length=31)
    businessId = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    awaitCompletion = serializers.BooleanField(required=False, default=False)
    requestTimeout = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_TIMEOUT_MS)
    fetchVariables = _strings(required=False)

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        given = [n for n in ("processDefinitionId", "processDefinitionKey") if n in attrs]
        if len(given) != 1:
            raise serializers.ValidationError("give exactly one of processDefinitionId and processDefinitionKey")
        if "processDefinitionVersionTag" in attrs and "processDefinitionId" not in attrs:
            raise serializers.ValidationError("processDefinitionVersionTag needs processDefinitionId")
        return attrs


class ActivateJobs(Strict):
    type = serializers.CharField(max_length=255)
    worker = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True, max_length=255)
    timeout = serializers.IntegerField(min_value=1, max_value=MAX_TIMEOUT_MS)
    maxJobsToActivate = serializers.IntegerField(min_value=1, max_value=10_000)
    fetchVariable = _strings(required=False, allow_null=True)
    requestTimeout = serializers.IntegerField(required=False, default=0, allow_null=True,
                                              min_value=-(2**63), max_value=MAX_TIMEOUT_MS)
    tenantIds = _strings(required=False, allow_null=True)
    tenantFilter = serializers.ChoiceField(["PROVIDED", "ASSIGNED"], required=False, allow_null=True)
    withLease = serializers.BooleanField(required=False, default=False, allow_null=True)


class CompleteJob(Strict):
    ignored = frozenset({"businessId"})

    jobLeaseToken = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True,
                                          max_length=64)
    variables = ObjectField(default=dict)
    # A task listener's answer ({"type": "userTask", "denied", "deniedReason", "corrections"}): checked by the action.
    result = ObjectField(default=None)


class FailJob(Strict):
    jobLeaseToken = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True,
                                          max_length=64)
    retries = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)
    errorMessage = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True,
                                         max_length=100_000, trim_whitespace=False)
    retryBackOff = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_TIMEOUT_MS)
    variables = ObjectField(default=dict)
    # FlowSync: what a JSON flow node's `retry.on` matches (else the code the message starts with).
    errorCode = serializers.RegexField(r"^([A-Z][A-Z0-9_]*|[1-5][0-9][0-9])$", required=False, default="",
                                       allow_blank=True, max_length=255)


class ThrowJobError(Strict):
    jobLeaseToken = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True,
                                          max_length=64)
    errorCode = serializers.CharField(max_length=255)
    errorMessage = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True,
                                         max_length=100_000, trim_whitespace=False)
    variables = ObjectField(default=dict)


class JobChangeset(Strict):
    unsupported = frozenset({"priority"})

    retries = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)
    timeout = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_TIMEOUT_MS)


class UpdateJob(Strict):
    ignored = frozenset({"operationReference", "jobLeaseToken"})

    changeset = JobChangeset()

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        change = attrs["changeset"]
        if change.get("retries") is None and change.get("timeout") is None:
            raise serializers.ValidationError({"changeset": ["give retries, timeout or both"]})
        return attrs


class PublishMessage(Strict):
    name = serializers.CharField(max_length=255)
    correlationKey = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True,
                                           max_length=255)
    timeToLive = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_TIMEOUT_MS)
    messageId = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    variables = ObjectField(default=dict)
    tenantId = serializers.CharField(required=False, max_length=31)
    businessId = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class CorrelateMessage(Strict):
    name = serializers.CharField(max_length=255)
    correlationKey = serializers.CharField(required=False, default="", allow_blank=True, allow_null=True,
                                           max_length=255)
    variables = ObjectField(default=dict)
    tenantId = serializers.CharField(required=False, max_length=31)
    businessId = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class BroadcastSignal(Strict):
    signalName = serializers.CharField(max_length=255)
    variables = ObjectField(default=dict)
    tenantId = serializers.CharField(required=False, max_length=31)


class OperationReference(Strict):
    """Bodies of cancellation and incident resolution: optional, only `operationReference`."""

    ignored = frozenset({"operationReference"})


class AssignUserTask(Strict):
    assignee = serializers.CharField(max_length=255)
    allowOverride = serializers.BooleanField(required=False, allow_null=True, default=True)
    action = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class UpdateUserTask(Strict):
    # {dueDate, followUpDate, candidateUsers, candidateGroups, priority}: checked by the action.
    changeset = ObjectField(default=None)
    action = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class UnassignUserTask(Strict):
    pass


class CompleteUserTask(Strict):
    variables = ObjectField(default=dict)
    action = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class SetVariables(Strict):
    ignored = frozenset({"operationReference"})

    variables = serializers.DictField()
    local = serializers.BooleanField(required=False, default=False)


class VariableInstruction(Strict):
    variables = ObjectField(default=dict)
    scopeId = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255, default="")


class ActivateInstruction(Strict):
    elementId = serializers.CharField(max_length=255)
    variableInstructions = serializers.ListField(child=VariableInstruction(), required=False, default=list,
                                                 max_length=100)
    ancestorElementInstanceKey = KeyField(required=False, allow_null=True)


class TerminateInstruction(Strict):
    """By key (`elementInstanceKey`) or by element id (`elementId`: every active instance of it)."""

    elementInstanceKey = KeyField(required=False)
    elementId = serializers.CharField(required=False, max_length=255)

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        if ("elementInstanceKey" in attrs) == ("elementId" in attrs):
            raise serializers.ValidationError("give exactly one of elementInstanceKey and elementId")
        return attrs


class SourceElementInstruction(Strict):
    sourceType = serializers.ChoiceField(choices=["byId", "byKey"])
    sourceElementId = serializers.CharField(required=False, max_length=255)
    sourceElementInstanceKey = KeyField(required=False)

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        needed = "sourceElementId" if attrs["sourceType"] == "byId" else "sourceElementInstanceKey"
        if needed not in attrs:
            raise serializers.ValidationError({needed: ["required for sourceType " + attrs["sourceType"]]})
        return attrs


class AncestorScopeInstruction(Strict):
    ancestorScopeType = serializers.ChoiceField(choices=["direct", "inferred", "sourceParent"])
    ancestorElementInstanceKey = KeyField(required=False)

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        if attrs["ancestorScopeType"] == "direct" and "ancestorElementInstanceKey" not in attrs:
            raise serializers.ValidationError({"ancestorElementInstanceKey": ["required for ancestorScopeType direct"]})
        return attrs


class MoveInstruction(Strict):
    sourceElementInstruction = SourceElementInstruction()
    targetElementId = serializers.CharField(max_length=255)
    ancestorScopeInstruction = AncestorScopeInstruction(required=False)
    variableInstructions = serializers.ListField(child=VariableInstruction(), required=False, default=list,
                                                 max_length=100)


class ModifyProcessInstance(Strict):
    ignored = frozenset({"operationReference"})

    activateInstructions = serializers.ListField(child=ActivateInstruction(), required=False, default=list,
                                                 max_length=1000)
    moveInstructions = serializers.ListField(child=MoveInstruction(), required=False, default=list, max_length=1000)
    terminateInstructions = serializers.ListField(child=TerminateInstruction(), required=False, default=list,
                                                  max_length=1000)


class EvaluateDecision(Strict):
    decisionDefinitionId = serializers.CharField(required=False, max_length=255)
    decisionDefinitionKey = KeyField(required=False)
    variables = ObjectField(default=dict)
    tenantId = serializers.CharField(required=False, max_length=31)

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        given = [n for n in ("decisionDefinitionId", "decisionDefinitionKey") if n in attrs]
        if len(given) != 1:
            raise serializers.ValidationError("give exactly one of decisionDefinitionId and decisionDefinitionKey")
        return attrs
class MappingInstruction(Strict):
    sourceElementId = serializers.CharField(max_length=255)
    targetElementId = serializers.CharField(max_length=255)


class MigrationPlan(Strict):
    targetProcessDefinitionKey = KeyField()
    mappingInstructions = serializers.ListField(child=MappingInstruction(), max_length=1000, allow_empty=True)


class MigrateProcessInstance(MigrationPlan):
    ignored = frozenset({"operationReference"})


class BatchFilter(Strict):
    """A batch operation over the process instances a Camunda process-instance filter matches."""

    ignored = frozenset({"operationReference"})
    filter = serializers.DictField()


class BatchMigration(BatchFilter):
    migrationPlan = MigrationPlan()


class BatchMoveInstruction(Strict):
    sourceElementId = serializers.CharField(max_length=255)
    targetElementId = serializers.CharField(max_length=255)


class BatchModification(BatchFilter):
    moveInstructions = serializers.ListField(child=BatchMoveInstruction(), min_length=1, max_length=1000)
