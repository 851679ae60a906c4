from django.urls import path

from inspector import batch_views, flows, views

app_name = "inspector"

urlpatterns = [
    path("", views.instance_list, name="instances"),
    path("tenant/", views.switch_tenant, name="switch-tenant"),
    path("instances/<int:key>/", views.instance_detail, name="instance"),
    path("instances/<int:key>/live/", views.instance_live, name="live"),
    path("instances/<int:key>/elements/<str:element_id>/", views.instance_element, name="element"),
    path("instances/<int:key>/diagram.json", views.instance_diagram, name="diagram"),
    path("instances/<int:key>/cancel/", views.instance_cancel, name="cancel"),
    path("instances/<int:key>/variables/", views.instance_variable, name="set-variable"),
    path("instances/<int:key>/modify/", views.instance_modify, name="modify"),
    path("instances/<int:key>/migrate/", batch_views.instance_migrate, name="migrate"),
    path("batches/", batch_views.batch_list, name="batches"),
    path("batches/new/", batch_views.batch_new, name="batch-new"),
    path("batches/<int:pk>/", batch_views.batch_detail, name="batch"),
    path("batches/<int:pk>/<str:action>/", batch_views.batch_steer, name="batch-steer"),
    path("definitions/", views.definition_list, name="definitions"),
    path("flows/<str:flow_id>/start/", flows.flow_start, name="flow-start"),
    path("definitions/<int:key>/", views.definition_detail, name="definition"),
    path("definitions/<int:key>/diagram.json", views.definition_diagram, name="definition-diagram"),
    path("definitions/<int:key>/source/", views.definition_source, name="definition-source"),
    path("filters/", views.filter_save, name="save-filter"),
    path("filters/<int:pk>/delete/", views.filter_delete, name="delete-filter"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/retry/", views.incident_batch_retry, name="retry-incidents"),
    path("incidents/<int:key>/retry/", views.incident_retry, name="retry-incident"),
    path("engine/", views.engine_status, name="engine"),
]
