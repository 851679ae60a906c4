"""/v2: the Camunda 8 compatible REST API. (FlowSync-native routes — JSON DAG workflows,
triggers — get their own prefix, not this one.)"""

from django.urls import path

from engine.api import openapi
from engine.api.views import (
    batches,
    cluster,
    decisions,
    definitions,
    deployments,
    elements,
    incidents,
    instances,
    jobs,
    messages,
)
from engine.api.views import user_tasks as tasks

urlpatterns = [
    # The paths a job worker and a starter call per instance first: Django tries the patterns in order
    # (~30 tries before these came first: a tenth of a completion's CPU; bench/api_paths.py).
    path("process-instances", instances.ProcessInstancesView.as_view()),
    path("jobs/activation", jobs.JobActivationView.as_view()),
    path("jobs/<str:key>/completion", jobs.JobCompletionView.as_view()),
    path("topology", cluster.TopologyView.as_view()),
    path("status", cluster.StatusView.as_view()),
    path("license", cluster.LicenseView.as_view()),
    path("deployments", deployments.DeploymentsView.as_view()),
    path("process-definitions/search", definitions.ProcessDefinitionSearchView.as_view()),
    path("process-definitions/<str:key>", definitions.ProcessDefinitionView.as_view()),
    path("process-definitions/<str:key>/xml", definitions.ProcessDefinitionXmlView.as_view()),
    path("decision-definitions/search", decisions.DecisionDefinitionSearchView.as_view()),
    path("decision-definitions/evaluation", decisions.DecisionEvaluationView.as_view()),
    path("decision-definitions/<str:key>", decisions.DecisionDefinitionView.as_view()),
    path("decision-definitions/<str:key>/xml", decisions.DecisionDefinitionXmlView.as_view()),
    path("decision-requirements/search", decisions.DecisionRequirementsSearchView.as_view()),
    path("decision-requirements/<str:key>", decisions.DecisionRequirementsView.as_view()),
    path("decision-requirements/<str:key>/xml", decisions.DecisionRequirementsXmlView.as_view()),
    path("decision-instances/search", decisions.DecisionInstanceSearchView.as_view()),
    path("decision-instances/<str:key>", decisions.DecisionInstanceView.as_view()),
    path("process-instances/search", instances.ProcessInstanceSearchView.as_view()),
    # Batch operations over a filter (before the <key> routes, which would take these words for keys).
    path("process-instances/cancellation", batches.InstanceCancellationBatchView.as_view()),
    path("process-instances/incident-resolution", batches.IncidentResolutionBatchView.as_view()),
    path("process-instances/migration", batches.MigrationBatchView.as_view()),
    path("process-instances/modification", batches.ModificationBatchView.as_view()),
    path("batch-operations/search", batches.BatchOperationSearchView.as_view()),
    path("batch-operations/<str:key>", batches.BatchOperationView.as_view()),
    path("batch-operations/<str:key>/cancellation", batches.BatchOperationCancellationView.as_view()),
    path("batch-operations/<str:key>/suspension", batches.BatchOperationSuspensionView.as_view()),
    path("batch-operations/<str:key>/resumption", batches.BatchOperationResumptionView.as_view()),
    path("batch-operation-items/search", batches.BatchOperationItemSearchView.as_view()),
    path("process-instances/<str:key>", instances.ProcessInstanceView.as_view()),
    path("process-instances/<str:key>/cancellation", instances.ProcessInstanceCancellationView.as_view()),
    path("process-instances/<str:key>/modification", instances.ProcessInstanceModificationView.as_view()),
    path("process-instances/<str:key>/migration", instances.ProcessInstanceMigrationView.as_view()),
    path("element-instances/search", elements.ElementInstanceSearchView.as_view()),
    path("element-instances/<str:key>", elements.ElementInstanceView.as_view()),
    path("element-instances/<str:key>/variables", elements.ElementInstanceVariablesView.as_view()),
    path("variables/search", elements.VariableSearchView.as_view()),
    path("variables/<str:key>", elements.VariableView.as_view()),
    path("jobs/search", jobs.JobSearchView.as_view()),
    path("jobs/<str:key>", jobs.JobView.as_view()),
    path("jobs/<str:key>/failure", jobs.JobFailureView.as_view()),
    path("jobs/<str:key>/error", jobs.JobErrorView.as_view()),
    path("messages/publication", messages.MessagePublicationView.as_view()),
    path("messages/correlation", messages.MessageCorrelationView.as_view()),
    path("signals/broadcast", messages.SignalBroadcastView.as_view()),
    path("incidents/search", incidents.IncidentSearchView.as_view()),
    path("incidents/<str:key>", incidents.IncidentView.as_view()),
    path("incidents/<str:key>/resolution", incidents.IncidentResolutionView.as_view()),
    path("user-tasks/search", tasks.UserTaskSearchView.as_view()),
    path("user-tasks/<str:key>", tasks.UserTaskView.as_view()),
    path("user-tasks/<str:key>/form", tasks.UserTaskFormView.as_view()),
    path("user-tasks/<str:key>/assignment", tasks.UserTaskAssignmentView.as_view()),
    path("user-tasks/<str:key>/assignee", tasks.UserTaskAssigneeView.as_view()),
    path("user-tasks/<str:key>/completion", tasks.UserTaskCompletionView.as_view()),
]

# Describe the views in the OpenAPI document (drf-spectacular reads these annotations).
openapi.document()
