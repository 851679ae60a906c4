"""/api/flows: FlowSync-native routes for JSON flows (the Camunda-compatible API stays under /v2)."""

from django.urls import path

from engine.api.views import flows

urlpatterns = [
    path("schema", flows.FlowSchemaView.as_view()),
    path("validate", flows.FlowValidateView.as_view()),
    path("hooks/<str:token>", flows.WebhookView.as_view()),
    path("executions/<str:key>", flows.ExecutionView.as_view()),
    path("executions/<str:key>/steps", flows.ExecutionStepsView.as_view()),
    path("executions/<str:key>/<str:action>", flows.ExecutionActionView.as_view()),
    path("deliveries/<str:delivery_id>/replay", flows.DeliveryReplayView.as_view()),
    path("dead-letters", flows.DeadLettersView.as_view()),
    # Connector secrets (engine/secrets.py). Like "schema", "validate" and "dead-letters" above, the route
    # comes first: a flow whose id is "secrets" is not reachable under /api/flows/<id> by that id.
    path("secrets", flows.SecretsView.as_view()),
    path("secrets/<str:name>", flows.SecretView.as_view()),
    path("dead-letters/replay", flows.DeadLettersReplayView.as_view()),
    path("", flows.FlowsView.as_view()),
    path("<str:flow_id>", flows.FlowView.as_view()),
    path("<str:flow_id>/versions", flows.FlowVersionsView.as_view()),
    path("<str:flow_id>/versions/<int:version>", flows.FlowVersionView.as_view()),
    path("<str:flow_id>/diff", flows.FlowDiffView.as_view()),
    path("<str:flow_id>/triggers", flows.FlowTriggersView.as_view()),
    path("<str:flow_id>/triggers/<str:trigger_id>/<str:action>", flows.FlowTriggerActionView.as_view()),
    path("<str:flow_id>/runs", flows.FlowRunsView.as_view()),
    path("<str:flow_id>/<str:action>", flows.FlowActivationView.as_view()),
]
