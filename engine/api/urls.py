from django.urls import path

from engine.api import views

urlpatterns = [
    path("deployments", views.DeploymentsView.as_view()),
    path("process-instances", views.ProcessInstancesView.as_view()),
    path("process-instances/<str:key>", views.ProcessInstanceView.as_view()),
    path("process-instances/<str:key>/cancellation", views.ProcessInstanceCancellationView.as_view()),
    path("jobs/activation", views.JobActivationView.as_view()),
    path("jobs/<str:key>/completion", views.JobCompletionView.as_view()),
    path("topology", views.TopologyView.as_view()),
    path("status", views.StatusView.as_view()),
]
