"""Request bodies, validated for shape only; the actions judge meaning."""

from __future__ import annotations

from rest_framework import serializers

KEY_PATTERN = r"^-?[0-9]+$"


class KeyField(serializers.RegexField):
    """Camunda keys travel as strings of digits; integers are accepted too."""

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(KEY_PATTERN, max_length=25, **kwargs)

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        return int(super().to_internal_value(data))


class CreateProcessInstance(serializers.Serializer):
    processDefinitionId = serializers.CharField(required=False, max_length=255)
    processDefinitionVersion = serializers.IntegerField(required=False, default=-1)
    processDefinitionKey = KeyField(required=False)
    variables = serializers.DictField(required=False, default=dict)
    tenantId = serializers.CharField(required=False, max_length=31)
    businessId = serializers.CharField(required=False, allow_null=True, max_length=255)
    operationReference = serializers.IntegerField(required=False)
    awaitCompletion = serializers.BooleanField(required=False, default=False)
    requestTimeout = serializers.IntegerField(required=False, default=0, min_value=0)
    fetchVariables = serializers.ListField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        if ("processDefinitionId" in attrs) == ("processDefinitionKey" in attrs):
            raise serializers.ValidationError("give exactly one of processDefinitionId and processDefinitionKey")
        return attrs


class ActivateJobs(serializers.Serializer):
    type = serializers.CharField(max_length=255)
    worker = serializers.CharField(required=False, default="", allow_blank=True, max_length=255)
    timeout = serializers.IntegerField(min_value=1)
    maxJobsToActivate = serializers.IntegerField(min_value=1, max_value=10_000)
    fetchVariable = serializers.ListField(child=serializers.CharField(), required=False)
    requestTimeout = serializers.IntegerField(required=False, default=0)
    tenantIds = serializers.ListField(child=serializers.CharField(), required=False)


class CompleteJob(serializers.Serializer):
    variables = serializers.DictField(required=False, allow_null=True, default=dict)
