from django.urls import path

from tasklist import views

app_name = "tasklist"

urlpatterns = [
    path("", views.index, name="index"),
    path("tenant/", views.switch_tenant, name="switch-tenant"),
    path("preferences/", views.preferences, name="preferences"),
    path("<int:key>/", views.task_detail, name="detail"),
    path("<int:key>/claim/", views.claim, name="claim"),
    path("<int:key>/unclaim/", views.unclaim, name="unclaim"),
    path("<int:key>/assignee/", views.hand_over, name="hand-over"),
    path("<int:key>/complete/", views.complete, name="complete"),
    path("<slug:list_name>/", views.task_list_page, name="list"),
]
